export { createWorkerPool, defaultWorkerThreads, type WorkerPool, type WorkerPoolOptions } from './pool.ts';
