#!/usr/bin/env node
// Thin launcher: the compiled composition root does the work.
import '../dist/src/app/main.js';
