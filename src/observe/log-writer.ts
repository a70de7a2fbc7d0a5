// A buffered, bounded, non-blocking line writer for the access log: stdout, stderr or a file
// opened for appending. Lines are queued and written by one asynchronous write at a time
// (node:fs, on a libuv worker thread: a slow disk or a blocked pipe never stalls the event
// loop), every FLUSH_MS or as soon as FLUSH_BYTES are waiting, and at close.
//
// Each write carries whole lines and at most PIPE_BUF (4096) bytes, so several worker processes
// appending to one pipe or O_APPEND file never interleave half-lines (POSIX: writes of at most
// PIPE_BUF bytes to a pipe are atomic; O_APPEND positions each write at the end). A single line
// longer than that goes out alone.
//
// When the queue holds `maxBytes` (default 4 MiB, about 10k JSON lines), new lines are dropped
// and counted (`dropped()`, for the metrics), and stderr says so at most once per DROP_NOTICE_MS.

import { open, type FileHandle } from "node:fs/promises";
import { write as fdWrite } from "node:fs";
import { PorticoError } from "../util/errors.ts";

export const PIPE_BUF = 4096;
const FLUSH_MS = 100;
const FLUSH_BYTES = 64 * 1024;
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const DROP_NOTICE_MS = 10_000;
/** A full non-blocking pipe (EAGAIN): try again after this long. */
const RETRY_MS = 20;

export class LogWriteError extends PorticoError {}

export interface LogWriter {
  /** Queues one line (without its newline); false when it was dropped (the queue is full). */
  write(line: string): boolean;
  /** Resolves once everything queued so far is written (or has failed). */
  flush(): Promise<void>;
  /** Flushes, then closes a file; the writer takes no more lines. */
  close(): Promise<void>;
  /** Lines dropped so far because the queue was full. */
  dropped(): number;
}

export interface LogWriterOptions {
  maxBytes?: number;
  /** Where notices about dropped lines and write errors go (default: stderr). */
  notice?: (msg: string) => void;
}

type Sink = { write(buf: Uint8Array): Promise<number>; close(): Promise<void> };

/** `dest`: "stdout", "stderr" or a file path (created with mode 0640, appended to). */
export function openLogWriter(dest: string, opts: LogWriterOptions = {}): LogWriter {
  const sink =
    dest === "stdout"
      ? fdSink(1)
      : dest === "stderr"
        ? fdSink(2)
        : fileSink(dest, opts.notice ?? stderrNotice);
  return new BufferedWriter(sink, opts.maxBytes ?? DEFAULT_MAX_BYTES, opts.notice ?? stderrNotice);
}

function stderrNotice(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} warn  ${msg}\n`);
}

function fdSink(fd: number): Sink {
  return {
    write: (buf) =>
      new Promise((resolve, reject) =>
        fdWrite(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))),
      ),
    close: async () => {},
  };
}

function fileSink(path: string, notice: (msg: string) => void): Sink {
  const handle: Promise<FileHandle | undefined> = open(path, "a", 0o640).catch((err) => {
    notice(`access log ${path} cannot be opened: ${(err as Error).message}; its lines are dropped`);
    return undefined;
  });
  return {
    write: async (buf) => {
      const h = await handle;
      if (!h) return buf.length;
      return (await h.write(buf)).bytesWritten;
    },
    close: async () => {
      await (await handle)?.close();
    },
  };
}

const encoder = new TextEncoder();

class BufferedWriter implements LogWriter {
  private lines: string[] = [];
  private queued = 0;
  private droppedCount = 0;
  private lastNotice = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly sink: Sink,
    private readonly maxBytes: number,
    private readonly notice: (msg: string) => void,
  ) {}

  write(line: string): boolean {
    // UTF-16 length bounds the queue: cheap, and within a factor of 3 of the bytes.
    const size = line.length + 1;
    if (this.closed || this.queued + size > this.maxBytes) {
      this.droppedCount++;
      const now = Date.now();
      if (now - this.lastNotice >= DROP_NOTICE_MS) {
        this.lastNotice = now;
        this.notice(`access log: writer is behind, ${this.droppedCount} lines dropped so far`);
      }
      return false;
    }
    this.lines.push(line);
    this.queued += size;
    if (this.queued >= FLUSH_BYTES) this.kick();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.kick(), FLUSH_MS);
      // The log never keeps the process alive; close() flushes what is left.
      (this.timer as { unref?: () => void }).unref?.();
    }
    return true;
  }

  dropped(): number {
    return this.droppedCount;
  }

  async flush(): Promise<void> {
    while (this.lines.length > 0 || this.running) {
      this.kick();
      await this.running;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    clearTimeout(this.timer);
    await this.sink.close();
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.lines.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.lines.length > 0) this.kick();
    });
  }

  /** Writes what is queued, whole lines, at most PIPE_BUF bytes a write. */
  private async drain(): Promise<void> {
    const lines = this.lines;
    this.lines = [];
    this.queued = 0;
    for (const chunk of chunks(lines)) {
      try {
        await this.writeAll(chunk);
      } catch (err) {
        this.notice(`access log write failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  private async writeAll(buf: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      try {
        off += await this.sink.write(off === 0 ? buf : buf.subarray(off));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }
}

/** Lines joined into buffers of whole lines, each at most PIPE_BUF bytes (a longer line alone). */
export function* chunks(lines: string[]): Generator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  for (const line of lines) {
    const bytes = encoder.encode(`${line}\n`);
    if (size > 0 && size + bytes.length > PIPE_BUF) {
      yield join(parts, size);
      parts = [];
      size = 0;
    }
    parts.push(bytes);
    size += bytes.length;
  }
  if (size > 0) yield join(parts, size);
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
