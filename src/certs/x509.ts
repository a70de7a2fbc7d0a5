// The one door to @peculiar/x509. Its dependency tsyringe throws at load time unless the
// Reflect metadata polyfill is already installed, so the polyfill is imported here, before the
// library, rather than trusted to every entry point and test file (docs/runtimes.md,
// "Dependencies on three runtimes").
import "reflect-metadata";

export * from "@peculiar/x509";
