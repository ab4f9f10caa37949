// The plan worker's entry (src/intake/plan-worker-pool.ts starts it in a worker thread; it is not a command): a
// worker thread does not inherit the tsx loader bin/spotcheck.js registered, so it registers its own before loading
// the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('../src/intake/plan-worker.ts');
