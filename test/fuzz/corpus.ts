// The valid configurations the config fuzzer starts from: the repository's routes.yaml, the
// book's Istio files (ch. 4), documents with Secrets, ServiceEntry, WorkloadEntry and
// DestinationRule, and the valid YAML of the unit tests (test/fixtures/config-fuzz/). Each seed
// is what one `portico validate` is given: its -c files and the flags the files need.
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
const BOOK = join(ROOT, "test/fixtures/istio-in-action-ch4");
const OWN = join(ROOT, "test/fixtures/config-fuzz");

export interface Seed {
  /** Files in -c order: a name (unique within the seed) and the text. */
  files: { name: string; text: string }[];
  /** The validate flags: --service, --port, --credentials (relative to the case folder). */
  services: Map<string, string>;
  portMap: Map<number, number>;
  credentialDirs: string[];
}

const SERVICES = new Map([
  ["webapp", "http://127.0.0.1:9080"],
  ["catalog", "http://127.0.0.1:9081"],
  ["tcp-echo-service", "tcp://127.0.0.1:2701"],
  ["simple-tls-service-1", "tcp://127.0.0.1:3001"],
  ["simple-tls-service-2", "tcp://127.0.0.1:3002"],
]);

function seed(paths: string[], extra: Partial<Seed> = {}): Seed {
  return {
    files: paths.map((p) => ({ name: basename(p), text: readFileSync(p, "utf8") })),
    services: SERVICES,
    portMap: new Map(),
    credentialDirs: ["certs"],
    ...extra,
  };
}

/** Every seed, in a fixed order (the fuzzer's seed number picks among them). */
export function loadCorpus(): Seed[] {
  const book = (...names: string[]) => names.map((n) => join(BOOK, n));
  const own = readdirSync(OWN)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => seed([join(OWN, f)]));
  return [
    seed([join(ROOT, "routes.yaml")], { services: new Map() }),
    seed(book("coolstore-gw.yaml", "coolstore-vs.yaml")),
    seed(book("coolstore-gw-tls.yaml", "coolstore-vs.yaml")),
    seed(book("coolstore-gw-tls-redirect.yaml", "coolstore-vs.yaml")),
    seed(book("coolstore-gw-multi-tls.yaml", "coolstore-vs.yaml", "catalog-vs.yaml")),
    seed(book("coolstore-gw-mtls.yaml", "coolstore-vs.yaml")),
    seed(book("gateway-tcp.yaml", "echo-vs.yaml")),
    seed(book("sni/passthrough-sni-gateway.yaml", "sni/passthrough-sni-vs-1.yaml")),
    seed(
      book(
        "sni/passthrough-sni-gateway-both.yaml",
        "sni/passthrough-sni-vs-1.yaml",
        "sni/passthrough-sni-vs-2.yaml",
      ),
    ),
    ...own,
  ];
}
