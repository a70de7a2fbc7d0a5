#!/usr/bin/env bun
// Entry point: the command line is the whole program (src/cli/main.ts).
import { main } from "./cli/main.ts";
import { commandArgs } from "./cli/worker-process.ts";

process.exitCode = await main(commandArgs());
