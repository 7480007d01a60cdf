// N-API surface of the engine: probe, startJob, extractFrames. All work runs on threads the
// addon owns; results come back through thread-safe functions. Context-aware (per-environment
// instance data), so the addon also loads in worker_threads.
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>

#include "av_raii.h"
#include "clips.h"
#include "file_lock.h"
#include "frames.h"
#include "job.h"
#include "log_watch.h"
#include "media_file.h"
#include "tasks.h"
#include "value.h"

namespace engine {
namespace {

struct CallContext {
  std::optional<Napi::Promise::Deferred> deferred;
};

// A closure to run on the JS thread; captures only plain C++ data, so it may be destroyed anywhere.
struct Payload {
  std::function<void(Napi::Env, Napi::Function, CallContext*)> run;
};

void callJs(Napi::Env env, Napi::Function fn, CallContext* ctx, Payload* data) {
  std::unique_ptr<Payload> payload(data);
  if (env == nullptr || !payload) return;  // environment shutting down
  try {
    payload->run(env, fn, ctx);
  } catch (const Napi::Error& e) {
    // An exception from the JS callback: rethrow it into JS (uncaught). While the environment
    // is being torn down (worker terminating) even that fails; nothing is left to tell then.
    try {
      e.ThrowAsJavaScriptException();
    } catch (...) {
    }
  } catch (...) {
    // Never let a C++ exception escape into Node (it would abort the process).
  }
}

using Tsfn = Napi::TypedThreadSafeFunction<CallContext, Payload, callJs>;

void deleteContext(Napi::Env, void*, CallContext* ctx) { delete ctx; }

// The worker thread's end of a thread-safe function. Once a call fails (napi_closing: the
// environment is shutting down, e.g. a worker being terminated) Node has already dropped this
// thread's reference, so the function must not be used, nor released, again.
class Channel {
 public:
  explicit Channel(Tsfn tsfn) : tsfn_(tsfn) {}
  void post(std::function<void(Napi::Env, Napi::Function, CallContext*)> fn) {
    if (!open_) return;
    auto* payload = new Payload{std::move(fn)};
    if (tsfn_.NonBlockingCall(payload) != napi_ok) {
      delete payload;
      open_ = false;
    }
  }
  void release() {
    if (open_) tsfn_.Release();
    open_ = false;
  }

 private:
  Tsfn tsfn_;
  bool open_ = true;
};

Napi::Value toJs(Napi::Env env, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Null: return env.Null();
    case Value::Kind::Bool: return Napi::Boolean::New(env, v.asBool());
    case Value::Kind::Number: return Napi::Number::New(env, v.asNumber());
    case Value::Kind::String: return Napi::String::New(env, v.asString());
    case Value::Kind::Array: {
      Napi::Array arr = Napi::Array::New(env, v.items().size());
      for (size_t i = 0; i < v.items().size(); ++i) arr.Set(static_cast<uint32_t>(i), toJs(env, v.items()[i]));
      return arr;
    }
    case Value::Kind::Numbers: {
      const auto& nums = v.numbers();
      Napi::Array arr = Napi::Array::New(env, nums.size());
      for (size_t i = 0; i < nums.size(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, nums[i]));
      return arr;
    }
    case Value::Kind::Object: {
      Napi::Object obj = Napi::Object::New(env);
      for (const auto& [key, value] : v.fields()) obj.Set(key, toJs(env, value));
      return obj;
    }
    case Value::Kind::Bytes: {
      const auto& data = v.byteData();
      return data ? Napi::Buffer<uint8_t>::Copy(env, data->data(), data->size()) : Napi::Buffer<uint8_t>::New(env, 0);
    }
  }
  return env.Null();
}

struct Failure {
  std::string code;
  std::string message;
};

// Runs fn, converting every exception into a Failure.
template <typename F>
std::optional<Failure> guarded(F&& fn) {
  try {
    fn();
    return std::nullopt;
  } catch (const MediaError& e) {
    return Failure{errorCodeName(e.code()), e.what()};
  } catch (const std::bad_alloc&) {
    return Failure{"internal", "out of memory"};
  } catch (const std::exception& e) {
    return Failure{"internal", std::string("internal error: ") + e.what()};
  } catch (...) {
    return Failure{"internal", "unknown internal error"};
  }
}

Napi::Error makeError(Napi::Env env, const Failure& f) {
  Napi::Error err = Napi::Error::New(env, f.message);
  err.Set("code", Napi::String::New(env, f.code));
  return err;
}

Value probeToValue(const ProbeInfo& info) {
  Value v = Value::object();
  v.set("duration", info.duration)
      .set("width", info.width)
      .set("height", info.height)
      .set("fps", info.fps)
      .set("rotation", info.rotation)
      .set("has_audio", info.hasAudio)
      .set("video_codec", info.videoCodec)
      .set("audio_codec", info.hasAudio ? Value(info.audioCodec) : Value());
  return v;
}

std::string errnoName(int err) {
  switch (err) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOLCK: return "ENOLCK";
    default: return "EIO";
  }
}

std::string requirePath(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "path must be a non-empty string");
  return path;
}

double numberOption(const Napi::Object& obj, const char* key, double fallback, double lo, double hi) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(obj.Env(), std::string("option ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw Napi::RangeError::New(obj.Env(), std::string("option ") + key + " is out of range");
  return d;
}

bool boolOption(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return v.ToBoolean().Value();
}

std::string stringOption(const Napi::Object& obj, const char* key) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) throw Napi::TypeError::New(obj.Env(), std::string("option ") + key + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(obj.Env(), std::string("option ") + key + " must not contain NUL");
  return s;
}

}  // namespace

class EngineAddon : public Napi::Addon<EngineAddon> {
 public:
  EngineAddon(Napi::Env env, Napi::Object exports) : tasks_(env) {
    DefineAddon(exports, {
                             InstanceMethod("probe", &EngineAddon::Probe),
                             InstanceMethod("startJob", &EngineAddon::StartJob),
                             InstanceMethod("extractFrames", &EngineAddon::ExtractFrames),
                             InstanceMethod("cutSpans", &EngineAddon::CutSpans),
                             InstanceMethod("activeThreads", &EngineAddon::ActiveThreads),
                             InstanceMethod("lockExclusive", &EngineAddon::LockExclusive),
                         });
    av_log_set_level(AV_LOG_QUIET);  // errors are reported through EngineError, not stderr
    installLogWatch();
  }

  // Environment teardown (process exit, worker termination): stop and join every thread.
  ~EngineAddon() { tasks_.shutdown(); }

 private:
  // Creates a promise whose settlement comes from a thread-safe function.
  Tsfn promiseTsfn(Napi::Env env, const char* name, Napi::Promise& promise) {
    auto* ctx = new CallContext();
    ctx->deferred.emplace(Napi::Promise::Deferred::New(env));
    promise = ctx->deferred->Promise();
    return Tsfn::New(env, name, 0, 1, ctx, deleteContext, static_cast<void*>(nullptr));
  }

  template <typename Work, typename ToJs>
  Napi::Value runAsync(Napi::Env env, const char* name, Work work, ToJs toValue) {
    Napi::Promise promise = Napi::Promise::Deferred::New(env).Promise();
    Tsfn tsfn = promiseTsfn(env, name, promise);
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    try {
      tasks_.spawn(cancel, [channel = Channel(tsfn), cancel, work = std::move(work), toValue = std::move(toValue)]() mutable {
        using Result = decltype(work(*cancel));
        auto result = std::make_shared<std::optional<Result>>();
        std::optional<Failure> failure = guarded([&] { result->emplace(work(*cancel)); });
        if (failure && cancel->load()) failure = Failure{"cancelled", "cancelled"};
        std::optional<Value> value;
        if (!failure) {
          failure = guarded([&] { value.emplace(toValue(**result)); });
        }
        channel.post([failure, value = std::move(value)](Napi::Env env, Napi::Function, CallContext* ctx) {
          if (failure) {
            ctx->deferred->Reject(makeError(env, *failure).Value());
          } else {
            ctx->deferred->Resolve(toJs(env, *value));
          }
        });
        channel.release();
      });
    } catch (const std::exception& e) {
      tsfn.Release();
      throw Napi::Error::New(env, std::string("cannot start a native thread: ") + e.what());
    }
    // promise.cancel() stops the work; the promise then rejects with code "cancelled".
    promise.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo& ci) {
                  cancel->store(true);
                  return ci.Env().Undefined();
                }));
    return promise;
  }

  // lockExclusive(path) -> {fd} when taken, {held: true} when another process holds it;
  // throws an error with the errno name as `code` when the file cannot be opened.
  Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LockResult r = lockExclusive(requirePath(info));
    Napi::Object out = Napi::Object::New(env);
    if (r.fd >= 0) {
      out.Set("fd", Napi::Number::New(env, r.fd));
    } else if (r.error == EWOULDBLOCK) {
      out.Set("held", Napi::Boolean::New(env, true));
    } else {
      Napi::Error err = Napi::Error::New(env, std::string("cannot open the lock file: ") + std::strerror(r.error));
      err.Set("code", Napi::String::New(env, errnoName(r.error)));
      throw err;
    }
    return out;
  }

  Napi::Value Probe(const Napi::CallbackInfo& info) {
    std::string path = requirePath(info);
    return runAsync(
        info.Env(), "engine.probe", [path](const std::atomic<bool>& cancel) { return probeFile(path, &cancel); },
        [](const ProbeInfo& p) { return probeToValue(p); });
  }

  Napi::Value ExtractFrames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = requirePath(info);
    if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "timestamps must be an array");
    Napi::Array arr = info[1].As<Napi::Array>();
    if (arr.Length() > 10000) throw Napi::RangeError::New(env, "too many timestamps (max 10000)");
    std::vector<double> timestamps;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
        throw Napi::TypeError::New(env, "timestamps must be finite numbers");
      timestamps.push_back(v.As<Napi::Number>().DoubleValue());
    }
    int maxSide = 384;
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "maxSide must be a number");
      double m = info[2].As<Napi::Number>().DoubleValue();
      if (!std::isfinite(m) || m < 8 || m > 4096) throw Napi::RangeError::New(env, "maxSide must be between 8 and 4096");
      maxSide = static_cast<int>(m);
    }
    return runAsync(
        env, "engine.extractFrames",
        [path, timestamps, maxSide](const std::atomic<bool>& cancel) {
          return extractFrames(path, timestamps, maxSide, cancel);
        },
        [](std::vector<ExtractedFrame>& frames) {
          Value list = Value::array();
          for (ExtractedFrame& f : frames) {
            Value v = Value::object();
            v.set("timestamp", f.timestamp).set("width", f.width).set("height", f.height).set("data", Value::bytes(std::move(f.rgb)));
            list.push(std::move(v));
          }
          return list;
        });
  }

  // cutSpans(input, output, [[start, end], ...], allowCopy) -> promise {duration, copied, frames}
  Napi::Value CutSpans(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string input = requirePath(info);
    if (info.Length() < 3 || !info[1].IsString() || !info[2].IsArray())
      throw Napi::TypeError::New(env, "usage: cutSpans(input, output, spans, allowCopy)");
    std::string output = info[1].As<Napi::String>().Utf8Value();
    if (output.empty() || output.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "output must be a non-empty string");
    Napi::Array arr = info[2].As<Napi::Array>();
    if (arr.Length() == 0 || arr.Length() > 1000) throw Napi::RangeError::New(env, "between 1 and 1000 spans");
    std::vector<CutSpan> spans;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) throw Napi::TypeError::New(env, "a span is [start, end]");
      Napi::Array pair = v.As<Napi::Array>();
      Napi::Value a = pair.Get(0u), b = pair.Get(1u);
      if (!a.IsNumber() || !b.IsNumber()) throw Napi::TypeError::New(env, "span times must be numbers");
      spans.push_back({a.As<Napi::Number>().DoubleValue(), b.As<Napi::Number>().DoubleValue()});
    }
    bool allowCopy = info.Length() < 4 || info[3].ToBoolean().Value();
    return runAsync(
        env, "engine.cutSpans",
        [input, output, spans, allowCopy](const std::atomic<bool>& cancel) { return cutSpans(input, output, spans, cancel, allowCopy); },
        [](const CutResult& r) {
          Value v = Value::object();
          v.set("duration", r.duration).set("copied", r.copied).set("frames", r.frames);
          return v;
        });
  }

  // startJob(path, options, onEvent) -> { cancel() }. onEvent gets every job event; the last one
  // is {type:"done"} or {type:"error", code, message}.
  Napi::Value StartJob(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = requirePath(info);
    if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsFunction())
      throw Napi::TypeError::New(env, "usage: startJob(path, options, onEvent)");
    Napi::Object o = info[1].As<Napi::Object>();
    JobOptions opt;
    opt.segmentDuration = numberOption(o, "segmentDuration", 3, 0.1, 24 * 3600);
    opt.sampleFps = numberOption(o, "sampleFps", 4, 0.1, 60);
    opt.analysisSize = static_cast<int>(numberOption(o, "analysisSize", 160, 16, 1024));
    opt.threads = static_cast<int>(numberOption(o, "threads", 2, 1, 16));
    opt.measureAudio = boolOption(o, "measureAudio", true);
    opt.series = boolOption(o, "series", false);
    opt.skipLoopFilter = boolOption(o, "skipLoopFilter", true);
    opt.media.thumbnailFile = stringOption(o, "thumbnailFile");
    opt.media.spriteFile = stringOption(o, "spriteFile");

    Tsfn tsfn = Tsfn::New(env, info[2].As<Napi::Function>(), "engine.job", 0, 1, new CallContext(), deleteContext,
                          static_cast<void*>(nullptr));
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    try {
      tasks_.spawn(cancel, [channel = Channel(tsfn), cancel, path, opt]() mutable {
        auto emit = [&channel](Value v) {
          auto shared = std::make_shared<Value>(std::move(v));
          channel.post([shared](Napi::Env env, Napi::Function fn, CallContext*) { fn.Call({toJs(env, *shared)}); });
        };
        std::optional<Failure> failure = guarded([&] { runJob(path, opt, *cancel, emit); });
        if (failure && cancel->load()) failure = Failure{"cancelled", "analysis cancelled"};
        if (failure) {
          Value ev = Value::object();
          ev.set("type", "error").set("code", failure->code).set("message", failure->message);
          emit(std::move(ev));
        }
        Value closed = Value::object();
        closed.set("type", "closed");
        emit(std::move(closed));
        channel.release();
      });
    } catch (const std::exception& e) {
      tsfn.Release();
      throw Napi::Error::New(env, std::string("cannot start a native thread: ") + e.what());
    }
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo& ci) {
                 cancel->store(true);
                 return ci.Env().Undefined();
               }));
    return handle;
  }

  Napi::Value ActiveThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), tasks_.active()); }

  TaskRegistry tasks_;
};

}  // namespace engine

using engine::EngineAddon;
NODE_API_ADDON(EngineAddon)
