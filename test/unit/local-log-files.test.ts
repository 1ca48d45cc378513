// Unit: the local platform keeps function output under its data dir as CloudWatch would hold it: a file
// per function, and the EMF metric records of every function in one JSON-lines file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataDirLogSink, teeLogSinks } from '../../local/log-files';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('dataDirLogSink', () => {
  it("appends each function's lines to logs/<function>.log and every EMF record to logs/metrics.jsonl", () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tenantic-logs-'));
    dirs.push(dataDir);
    const seen: string[] = [];
    const sink = teeLogSinks((fn, _stream, line) => seen.push(`[${fn}] ${line}`), dataDirLogSink(dataDir));
    const emf = '{"_aws":{"CloudWatchMetrics":[{"Namespace":"Tenantic"}]},"LlmAnswers":1}';

    sink('chat-api', 'stdout', '{"level":"info","message":"request"}');
    sink('chat-api', 'stdout', emf);
    sink('chat-worker', 'stderr', 'a runtime error');

    expect(readFileSync(join(dataDir, 'logs', 'chat-api.log'), 'utf8')).toBe(
      `{"level":"info","message":"request"}\n${emf}\n`,
    );
    expect(readFileSync(join(dataDir, 'logs', 'chat-worker.log'), 'utf8')).toBe('a runtime error\n');
    expect(readFileSync(join(dataDir, 'logs', 'metrics.jsonl'), 'utf8')).toBe(`${emf}\n`);
    expect(seen).toHaveLength(3);
  });
});
