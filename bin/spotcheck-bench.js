#!/usr/bin/env node
// `npm run bench`: runs the TypeScript benchmarks directly through tsx, like bin/spotcheck.js.
import { register } from 'tsx/esm/api';

// The SDK's notice about its future Node 22 requirement is noise for a tool that supports Node 20.18+.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../bench/main.ts');
process.exitCode = await main(process.argv.slice(2));
