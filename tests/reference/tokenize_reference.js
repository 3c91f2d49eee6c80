// Encodes every string of a JSON corpus with independent tokenizer implementations and prints
// {"nfc": [NFC of each string], "ids": {"<encoder>": [[ids of each string], ...]}} on stdout.
// Encoders:
//   gpt2-js        the npm package gpt-3-encoder (a JS port of GPT-2's encoder.py); it knows no
//                  special tokens, so <|endoftext|> is split out here and mapped to its id, 50256
//   hf:<file>      Hugging Face `tokenizers` (Rust, via @anush008/tokenizers) loading <file>, a
//                  tokenizer.json; added tokens are parsed, no BOS/EOS is added
// Usage: node tokenize_reference.js <npm node_modules dir> <corpus.json> <encoder>...
'use strict';
const fs = require('fs');
const path = require('path');

const kEndOfText = '<|endoftext|>';
const kEndOfTextId = 50256;

function gpt2JsEncoder(npmDir) {
  const gpt2 = require(path.resolve(npmDir, 'gpt-3-encoder'));
  return async (text) => {
    const ids = [];
    text.split(kEndOfText).forEach((part, i) => {
      if (i > 0) ids.push(kEndOfTextId);
      if (part.length > 0) ids.push(...gpt2.encode(part));
    });
    return ids;
  };
}

function hfEncoder(npmDir, file) {
  const {Tokenizer} = require(path.resolve(npmDir, '@anush008/tokenizers'));
  const tokenizer = Tokenizer.fromFile(file);
  return async (text) =>
             (await tokenizer.encode(text, null, {addSpecialTokens: false})).getIds();
}

async function main() {
  const [npmDir, corpusFile, ...encoders] = process.argv.slice(2);
  if (!npmDir || !corpusFile || encoders.length === 0) {
    console.error('usage: node tokenize_reference.js <npm dir> <corpus.json> <encoder>...');
    process.exit(2);
  }
  const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8'));
  const result = {nfc: corpus.map((text) => text.normalize('NFC')), ids: {}};
  for (const name of encoders) {
    let encode;
    if (name === 'gpt2-js') {
      encode = gpt2JsEncoder(npmDir);
    } else if (name.startsWith('hf:')) {
      encode = hfEncoder(npmDir, name.slice(3));
    } else {
      throw new Error(`unknown encoder ${name}`);
    }
    result.ids[name] = [];
    for (const text of corpus) result.ids[name].push(Array.from(await encode(text)));
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
