#!/usr/bin/env node
// The agent on a cloud runner (runners/agent/main.ts), run through tsx like bin/spotcheck.js.
import { register } from 'tsx/esm/api';

register();
const { agentMain } = await import('../runners/agent/main.ts');
process.exit(await agentMain(process.env));
