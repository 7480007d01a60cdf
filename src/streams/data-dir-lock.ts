// One process per DATA_DIR: two services sharing one journal would corrupt each other's
// sessions. The lock is an flock on DATA_DIR/.lock, released by the kernel when the holder dies
// (kill -9 included), and the file names the holder's pid for the error message.
import fs from 'node:fs';
import { lockExclusive } from '../engine/index.js';
import { storageError } from './storage.js';

export class DataDirInUseError extends Error {
  constructor(readonly holderPid: number | null) {
    super(`DATA_DIR is in use by another running service${holderPid ? ` (pid ${holderPid})` : ''}; stop it or choose another DATA_DIR`);
    this.name = 'DataDirInUseError';
  }
}

export class DataDirLock {
  private constructor(
    private fd: number | null,
    private readonly lockFile: string,
  ) {}

  /** Takes the lock or throws DataDirInUseError (held) or a StorageError (cannot write DATA_DIR). */
  static acquire(lockFile: string): DataDirLock {
    let fd: number | null;
    try {
      fd = lockExclusive(lockFile);
    } catch (err) {
      throw storageError(err, 'lock the data directory');
    }
    if (fd === null) throw new DataDirInUseError(readPid(lockFile));
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`);
    } catch {
      // the pid is only for messages; the lock itself is held
    }
    return new DataDirLock(fd, lockFile);
  }

  /**
   * Whether the lock file is still the one this process locked. If DATA_DIR was emptied, the
   * lock is taken again on a new file (false when another process got it first).
   */
  verify(): boolean {
    if (this.fd === null) return false;
    try {
      if (fs.fstatSync(this.fd).ino === fs.statSync(this.lockFile).ino) return true;
    } catch {
      // gone: take it again below
    }
    try {
      const fd = lockExclusive(this.lockFile);
      if (fd === null) return false;
      fs.closeSync(this.fd);
      this.fd = fd;
      fs.writeFileSync(this.lockFile, `${process.pid}\n`);
      return true;
    } catch {
      return false; // DATA_DIR itself is missing: reported as a storage problem
    }
  }

  release(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

function readPid(lockFile: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
