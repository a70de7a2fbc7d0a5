// The YAML documents of one config file, parsed the one way config/ parses them: no pretty
// errors (messages carry their own line), duplicate keys found in linear time
// (yaml-unique-keys.ts). Twice: at once, and in slices that let the event loop run between
// them, for a reload under traffic: the yaml package lexes and parses 10,000 hosts' worth of
// routes.yaml in seconds, all of it synchronous in parseAllDocuments.
import { Composer, type Document, Lexer, LineCounter, Parser, parseAllDocuments } from "yaml";
import { UNIQUE_KEYS_LATER, addDuplicateKeyErrors } from "./yaml-unique-keys.ts";

export interface ParsedText {
  docs: Document[];
  lineCounter: LineCounter;
}

const OPTIONS = { prettyErrors: false, ...UNIQUE_KEYS_LATER } as const;

export function parseYaml(text: string): ParsedText {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, ...OPTIONS });
  for (const doc of docs) addDuplicateKeyErrors(doc);
  return { docs, lineCounter };
}

/** Longest stretch of lexing and parsing before letting other work run, in milliseconds. */
const SLICE_MS = 5;

/**
 * What parseYaml returns, the same steps parseAllDocuments takes (Parser.parse and
 * Composer.compose, unrolled), pausing every SLICE_MS. Composing a document from its syntax
 * tree is left whole (a tenth of the work).
 */
export async function parseYamlSliced(text: string): Promise<ParsedText> {
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer(OPTIONS);
  const docs: Document[] = [];
  // Parser.parse announces the first line itself before lexing.
  lineCounter.addNewLine(0);
  let n = 0;
  let since = performance.now();
  for (const lexeme of new Lexer().lex(text, false)) {
    for (const token of parser.next(lexeme)) for (const doc of composer.next(token)) docs.push(doc);
    if ((++n & 255) === 0 && performance.now() - since > SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      since = performance.now();
    }
  }
  for (const token of parser.end()) for (const doc of composer.next(token)) docs.push(doc);
  for (const doc of composer.end(false, -1)) docs.push(doc);
  for (const doc of docs) addDuplicateKeyErrors(doc);
  return { docs, lineCounter };
}
