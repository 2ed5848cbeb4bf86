#!/usr/bin/env node
// `node bin/tsbuild.js` works as before: the launcher itself is bin/tsbuild.cjs.
import './tsbuild.cjs';
