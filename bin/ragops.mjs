#!/usr/bin/env node
// Entry point for the `ragops` bin: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';
register();
await import('../src/client/cli/index.ts');
