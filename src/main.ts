#!/usr/bin/env bun
// Entry point: the command line is the whole program (src/cli/main.ts).
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
