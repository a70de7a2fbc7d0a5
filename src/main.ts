#!/usr/bin/env bun
// Entry point. reflect-metadata must load before anything imports @peculiar/x509 (its tsyringe
// dependency throws "tsyringe requires a reflect polyfill" otherwise; docs/runtimes.md).
import "reflect-metadata";
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
