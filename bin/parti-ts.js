#!/usr/bin/env node
// Entry point of the installed `parti-ts` command: runs the compiled CLI (npm run build first).
import '../dist/cli/main.js';
