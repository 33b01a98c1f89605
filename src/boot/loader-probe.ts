// A fixture of strip-once.test.ts: prints, as JSON, whether Node's type stripper was loaded in this
// thread and in a worker thread it starts, and the line a stack trace gives for a line of this file.

import { Worker, isMainThread, parentPort } from 'node:worker_threads';

type Report = { stripperLoaded: boolean; stackLine: number };

function report(): Report {
  const loaded = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
  const stack: string = new Error('probe').stack ?? ''; // STACK_LINE: this line's number
  const m = /loader-probe\.ts:(\d+):\d+/.exec(stack);
  return { stripperLoaded: loaded.some((name) => name.includes('amaro')), stackLine: m === null ? -1 : Number(m[1]) };
}

if (isMainThread) {
  const worker = new Worker(new URL(import.meta.url));
  worker.once('message', (inWorker: Report) => {
    process.stdout.write(JSON.stringify({ main: report(), worker: inWorker }));
  });
} else {
  parentPort!.postMessage(report());
}
