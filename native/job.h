// One analysis job: a cheap baseline pre-pass over the whole file (packet statistics and the
// audio track), then a sampled decode of the video that emits one event per finished segment.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "thumbnails.h"
#include "value.h"

namespace engine {

struct JobOptions {
  double segmentDuration = 3;  // seconds per segment
  double sampleFps = 4;        // analysis samples per second of video
  int analysisSize = 160;      // longest side of the gray analysis frames
  int threads = 2;             // decoder threads
  bool measureAudio = true;    // decode the audio track in the pre-pass
  bool series = false;         // include per-sample motion series in segment events (workout)
  bool skipLoopFilter = true;  // cheaper decoding of big frames
  MediaOptions media;          // thumbnails and storyboard sprites (thumbnails.h)
};

using EventSink = std::function<void(Value)>;

// Runs the job on the calling thread. Events:
//   {type:"info", ...probe fields}
//   {type:"progress", phase:"baseline"|"analyze", fraction}
//   {type:"baseline", duration, segmentDuration, segments:[{start,end,activity,audioRms,audioPeak,
//        audioLoudestAt,audioPeaks}], audio:{measured, medianWindowDb, maxWindowDb, ...}}
//   {type:"segment", index, start, end, samples, motion, motionMax, cuts, cutTimes, brightness, series?, thumbnail?}
//   {type:"done", framesDecoded, samples, decodeErrors, analyzedDuration, storyboard?}
// Throws MediaError on failure (including ErrorCode::Cancelled).
void runJob(const std::string& path, const JobOptions& options, const std::atomic<bool>& cancel, const EventSink& emit);

}  // namespace engine
