// Drives `llmserve serve` with the official OpenAI Node SDK (openai@4.95.0, installed by
// scripts/install_openai_sdk.sh): the OpenAI-compatible endpoints must parse, stream and fail the
// way that client expects.
//   node openai_sdk.test.mjs --binary LLMSERVE --model MODEL_DIR --sdk DIR_WITH_node_modules/openai
// Prints one line per step; exits 0 when all pass, 1 on the first failure (with the step, the
// error and the tail of the server's log), 77 (skipped) when the SDK is not installed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const SKIP = 77;
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 120_000;
const MODEL = 'tiny-qwen';
const ALIAS = 'alias';
const API_KEY = 'sk-test';

const { values: args } = parseArgs({
  options: { binary: { type: 'string' }, model: { type: 'string' }, sdk: { type: 'string' } },
});
for (const name of ['binary', 'model', 'sdk']) {
  if (!args[name]) {
    console.error(`usage: node openai_sdk.test.mjs --binary LLMSERVE --model DIR --sdk DIR (missing --${name})`);
    process.exit(2);
  }
}

const sdkEntry = path.join(path.resolve(args.sdk), 'node_modules', 'openai', 'index.mjs');
if (!existsSync(sdkEntry)) {
  console.log(`SKIP: the OpenAI SDK is not installed (no ${sdkEntry}); ` +
              'run scripts/install_openai_sdk.sh DIR (needs npm)');
  process.exit(SKIP);
}
const { default: OpenAI } = await import(pathToFileURL(sdkEntry).href);

// ---------------------------------------------------------------------------------------------
// The server process

const server = {
  child: null,
  log: '',
  exited: null,  // resolves to {code, signal}
  exit: null,    // {code, signal} once it has exited
};

function logTail(lines = 40) {
  return server.log.trimEnd().split('\n').slice(-lines).join('\n');
}

function startServer() {
  const argv = ['serve', '--port', '0', '--model', args.model, '--served-model-name', MODEL,
                '--served-model-name', ALIAS, '--api-key', API_KEY];
  console.log(`starting: ${args.binary} ${argv.join(' ')}`);
  const child = spawn(args.binary, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  server.child = child;
  server.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      server.exit = { code, signal };
      resolve(server.exit);
    });
    // Not started at all (e.g. no such binary): there will be no 'exit'.
    child.on('error', () => {
      if (child.pid === undefined && !server.exit) {
        server.exit = { code: null, signal: null };
        resolve(server.exit);
      }
    });
  });
  return new Promise((resolve, reject) => {
    let pending = '';
    let port = null;
    const timer = setTimeout(() => {
      reject(new Error(`no 'listening on http://HOST:PORT' line within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${args.binary}: ${err.message}`));
    });
    // Keeps draining stderr after startup too: a full pipe would block the server.
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      server.log += text;
      if (port !== null) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();  // an incomplete line could hold a truncated port
      for (const line of lines) {
        const m = /listening on http:\/\/(\S+):(\d+)/.exec(line);
        if (m) {
          port = Number(m[2]);
          clearTimeout(timer);
          resolve(port);
          return;
        }
      }
    });
    server.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (port === null) reject(new Error(`exited at startup (code ${code}, signal ${signal})`));
    });
  });
}

// SIGTERM, then the exit status, which must be 0.
async function stopServer() {
  const { child } = server;
  if (!child || server.exit) return server.exit;
  child.kill('SIGTERM');
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS); });
  const exit = await Promise.race([server.exited, timeout]);
  clearTimeout(timer);
  if (exit === null) {
    child.kill('SIGKILL');
    await server.exited;
    throw new Error(`did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killed`);
  }
  return exit;
}

// Whatever happens to this script, the server does not outlive it.
process.on('exit', () => {
  if (server.child && !server.exit) server.child.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`interrupted (${sig})`);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// Steps

let current = '(startup)';

async function step(name, fn) {
  current = name;
  await fn();
  console.log(`ok   ${name}`);
}

async function fail(err) {
  console.error(`FAIL ${current}: ${err?.stack ?? err}`);
  if (err?.status !== undefined || err?.error !== undefined) {
    console.error(`     status ${err.status}, error body ${JSON.stringify(err.error)}`);
  }
  try {
    await stopServer();
  } catch (stopErr) {
    console.error(`     stopping the server: ${stopErr.message}`);
  }
  console.error(`---- server log (tail) ----\n${logTail()}\n---------------------------`);
  process.exit(1);
}

const isNumber = (x) => typeof x === 'number' && Number.isFinite(x);

function checkUsage(usage, completionTokens) {
  assert.ok(usage, 'usage is missing');
  assert.equal(usage.completion_tokens, completionTokens, 'usage.completion_tokens');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0,
            `usage.prompt_tokens must be a positive integer, got ${usage.prompt_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens,
               'usage.total_tokens = prompt_tokens + completion_tokens');
}

function sortedIndices(choices) {
  return choices.map((c) => c.index).sort((a, b) => a - b);
}

// Expects `promise` to reject with an instance of `ErrorClass` and `status`; returns the error.
async function expectApiError(promise, ErrorClass, status) {
  let err;
  try {
    const value = await promise;
    assert.fail(`expected ${ErrorClass.name} (${status}), got a response: ${JSON.stringify(value).slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.ok(err instanceof ErrorClass,
            `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, 'status');
  assert.equal(typeof err.error?.message, 'string', 'error.message (the body\'s error.message) is a string');
  assert.equal(typeof err.type, 'string', 'error.type is a string');
  return err;
}

async function main() {
  const port = await startServer();
  console.log(`server listening on port ${port}`);
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const client = new OpenAI({ baseURL, apiKey: API_KEY, maxRetries: 0, timeout: REQUEST_TIMEOUT_MS });

  const greedy = { model: MODEL, temperature: 0, ignore_eos: true };
  let maxModelLen;

  await step('models.list', async () => {
    const page = await client.models.list();
    assert.equal(page.object, 'list', 'object');
    const ids = page.data.map((m) => m.id);
    for (const id of [MODEL, ALIAS]) assert.ok(ids.includes(id), `'${id}' not in ${JSON.stringify(ids)}`);
    for (const m of page.data) {
      assert.equal(m.object, 'model', `${m.id}: object`);
      assert.ok(isNumber(m.created), `${m.id}: created must be a number, got ${m.created}`);
      assert.equal(typeof m.owned_by, 'string', `${m.id}: owned_by`);
      assert.ok(isNumber(m.max_model_len) && m.max_model_len > 0,
                `${m.id}: max_model_len must be a positive number, got ${m.max_model_len}`);
    }
    maxModelLen = page.data.find((m) => m.id === MODEL).max_model_len;
  });

  let plainText;
  await step('completions.create', async () => {
    const r = await client.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 8 });
    assert.equal(r.object, 'text_completion', 'object');
    assert.equal(typeof r.id, 'string', 'id');
    assert.ok(isNumber(r.created), 'created');
    assert.equal(r.model, MODEL, 'model');
    assert.equal(r.choices.length, 1, 'choices.length');
    assert.equal(r.choices[0].index, 0, 'choices[0].index');
    assert.equal(typeof r.choices[0].text, 'string', 'choices[0].text');
    assert.equal(r.choices[0].finish_reason, 'length', 'finish_reason');
    checkUsage(r.usage, 8);
    plainText = r.choices[0].text;
  });

  await step('completions.create via the alias', async () => {
    const r = await client.completions.create({ ...greedy, model: ALIAS, prompt: 'Hello', max_tokens: 8 });
    assert.equal(r.choices[0].text, plainText, 'same model, same greedy text');
  });

  await step('completions.create stream', async () => {
    const stream = await client.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 8, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length > 0, 'no chunks');
    let text = '';
    for (const c of chunks) {
      assert.equal(c.object, 'text_completion', 'every chunk: object');
      assert.equal(c.id, chunks[0].id, 'every chunk: the same id');
      assert.equal(c.model, MODEL, 'every chunk: model');
      for (const choice of c.choices) {
        assert.equal(choice.index, 0, 'choice index');
        text += choice.text ?? '';
      }
    }
    assert.equal(text, plainText, 'streamed text = the non-streamed greedy text');
    const finished = chunks.flatMap((c) => c.choices).filter((ch) => ch.finish_reason != null);
    assert.equal(finished.length, 1, 'exactly one finish_reason');
    assert.equal(finished[0].finish_reason, 'length', 'finish_reason');
    const lastWithChoices = chunks.filter((c) => c.choices.length > 0).at(-1);
    assert.equal(lastWithChoices.choices[0].finish_reason, 'length', 'the last chunk carries the finish_reason');
  });

  await step('completions.create with a list of two prompts', async () => {
    const r = await client.completions.create({ ...greedy, prompt: ['Hello', 'Hi there'], max_tokens: 4, n: 1 });
    assert.equal(r.choices.length, 2, 'choices.length');
    assert.deepEqual(sortedIndices(r.choices), [0, 1], 'choice indices');
    for (const c of r.choices) {
      assert.equal(typeof c.text, 'string', 'text');
      assert.equal(c.finish_reason, 'length', 'finish_reason');
    }
    checkUsage(r.usage, 8);
  });

  await step('completions.create with a token-id prompt', async () => {
    const r = await client.completions.create({ ...greedy, prompt: [9707, 11], max_tokens: 4 });
    assert.equal(r.choices.length, 1, 'choices.length');
    assert.equal(typeof r.choices[0].text, 'string', 'text');
    checkUsage(r.usage, 4);
    assert.equal(r.usage.prompt_tokens, 2, 'usage.prompt_tokens');
  });

  await step('completions.create n=2 sampled', async () => {
    const r = await client.completions.create({
      model: MODEL, prompt: 'Hello', n: 2, temperature: 0.8, seed: 1, max_tokens: 6, ignore_eos: true,
    });
    assert.equal(r.choices.length, 2, 'choices.length');
    assert.deepEqual(sortedIndices(r.choices), [0, 1], 'choice indices');
    for (const c of r.choices) assert.equal(typeof c.text, 'string', 'text');
    checkUsage(r.usage, 12);
  });

  await step('completions.create logprobs', async () => {
    const r = await client.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 4, logprobs: 2 });
    const lp = r.choices[0].logprobs;
    assert.ok(lp, 'choices[0].logprobs is missing');
    assert.equal(lp.tokens.length, 4, 'tokens.length');
    for (const t of lp.tokens) assert.equal(typeof t, 'string', 'each token is a string');
    assert.equal(lp.token_logprobs.length, 4, 'token_logprobs.length');
    for (const x of lp.token_logprobs) assert.ok(isNumber(x) && x <= 0, `token_logprob ${x} must be a number <= 0`);
    assert.equal(lp.top_logprobs.length, 4, 'top_logprobs.length');
    lp.top_logprobs.forEach((top, i) => {
      assert.ok(top && typeof top === 'object' && !Array.isArray(top), `top_logprobs[${i}] is an object`);
      const values = Object.values(top);
      assert.ok(values.length >= 1 && values.length <= 2, `top_logprobs[${i}] has 1..2 keys, got ${values.length}`);
      for (const v of values) assert.ok(isNumber(v) && v <= 0, `top_logprobs[${i}] value ${v} must be <= 0`);
      // Greedy: the sampled token is the most likely one.
      const best = Math.max(...values);
      assert.ok(Math.abs(best - lp.token_logprobs[i]) < 1e-3,
                `greedy token ${i}: token_logprob ${lp.token_logprobs[i]} != best top_logprob ${best}`);
    });
    assert.equal(lp.text_offset.length, 4, 'text_offset.length');
    for (const x of lp.text_offset) assert.ok(Number.isInteger(x) && x >= 0, `text_offset ${x} must be an integer >= 0`);
    for (let i = 1; i < 4; ++i) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1], 'text_offset is non-decreasing');
  });

  const chatMessages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
  let chatContent;
  await step('chat.completions.create', async () => {
    const r = await client.chat.completions.create({ ...greedy, messages: chatMessages, max_tokens: 8 });
    assert.equal(r.object, 'chat.completion', 'object');
    assert.equal(typeof r.id, 'string', 'id');
    assert.ok(isNumber(r.created), 'created');
    assert.equal(r.model, MODEL, 'model');
    assert.equal(r.choices.length, 1, 'choices.length');
    assert.equal(r.choices[0].index, 0, 'choices[0].index');
    assert.equal(r.choices[0].message.role, 'assistant', 'message.role');
    assert.equal(typeof r.choices[0].message.content, 'string', 'message.content');
    assert.equal(r.choices[0].finish_reason, 'length', 'finish_reason');
    checkUsage(r.usage, 8);
    chatContent = r.choices[0].message.content;
  });

  await step('chat.completions.create stream with include_usage', async () => {
    const stream = await client.chat.completions.create({
      ...greedy, messages: chatMessages, max_tokens: 8, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 2, `expected at least 2 chunks, got ${chunks.length}`);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk', 'every chunk: object');
      assert.equal(c.id, chunks[0].id, 'every chunk: the same id');
      assert.equal(c.model, MODEL, 'every chunk: model');
    }
    assert.equal(chunks[0].choices[0]?.delta?.role, 'assistant', 'the first chunk\'s delta.role');
    const content = chunks.flatMap((c) => c.choices).map((ch) => ch.delta?.content ?? '').join('');
    assert.equal(content, chatContent, 'streamed content = the non-streamed greedy content');
    const finished = chunks.flatMap((c) => c.choices).filter((ch) => ch.finish_reason != null);
    assert.equal(finished.length, 1, 'exactly one finish_reason');
    assert.equal(finished[0].finish_reason, 'length', 'finish_reason');
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the final (usage) chunk has choices: []');
    checkUsage(last.usage, 8);
  });

  await step('chat.completions.create stream n=2', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: chatMessages, n: 2, temperature: 0.8, seed: 1, max_tokens: 4, ignore_eos: true,
      stream: true,
    });
    const seen = new Set();
    const finishes = new Map();
    for await (const c of stream) {
      assert.equal(c.object, 'chat.completion.chunk', 'object');
      for (const ch of c.choices) {
        assert.ok(ch.index === 0 || ch.index === 1, `index ${ch.index}`);
        seen.add(ch.index);
        if (ch.finish_reason != null) {
          assert.ok(!finishes.has(ch.index), `index ${ch.index} got a second finish_reason`);
          finishes.set(ch.index, ch.finish_reason);
        }
      }
    }
    assert.deepEqual([...seen].sort(), [0, 1], 'chunks carry index 0 and 1');
    assert.equal(finishes.get(0), 'length', 'index 0 finish_reason');
    assert.equal(finishes.get(1), 'length', 'index 1 finish_reason');
  });

  await step('chat.completions.create logprobs', async () => {
    const r = await client.chat.completions.create({
      ...greedy, messages: chatMessages, max_tokens: 3, logprobs: true, top_logprobs: 2,
    });
    const content = r.choices[0].logprobs?.content;
    assert.ok(Array.isArray(content), 'choices[0].logprobs.content is an array');
    assert.equal(content.length, 3, 'logprobs.content.length');
    const checkEntry = (e, what) => {
      assert.equal(typeof e.token, 'string', `${what}.token`);
      assert.ok(isNumber(e.logprob) && e.logprob <= 0, `${what}.logprob ${e.logprob} must be <= 0`);
      assert.ok(Array.isArray(e.bytes) && e.bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255),
                `${what}.bytes must be a list of byte values`);
    };
    content.forEach((e, i) => {
      checkEntry(e, `content[${i}]`);
      assert.ok(Array.isArray(e.top_logprobs), `content[${i}].top_logprobs is an array`);
      assert.equal(e.top_logprobs.length, 2, `content[${i}].top_logprobs.length`);
      e.top_logprobs.forEach((t, j) => checkEntry(t, `content[${i}].top_logprobs[${j}]`));
    });
  });

  await step('chat.completions.create with list-of-parts content', async () => {
    const asString = await client.chat.completions.create({
      ...greedy, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 8,
    });
    const asParts = await client.chat.completions.create({
      ...greedy, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], max_tokens: 8,
    });
    assert.equal(asParts.choices[0].message.content, asString.choices[0].message.content,
                 'list-of-parts content answers like the same string content');
    assert.equal(asParts.usage.prompt_tokens, asString.usage.prompt_tokens, 'same prompt_tokens');
  });

  await step('unknown model -> NotFoundError', async () => {
    const err = await expectApiError(
      client.completions.create({ ...greedy, model: 'nope', prompt: 'Hello', max_tokens: 1 }),
      OpenAI.NotFoundError, 404);
    assert.equal(err.code, 'model_not_found', 'error.code');
    const chatErr = await expectApiError(
      client.chat.completions.create({ ...greedy, model: 'nope', messages: chatMessages, max_tokens: 1 }),
      OpenAI.NotFoundError, 404);
    assert.equal(chatErr.code, 'model_not_found', 'chat: error.code');
  });

  await step('wrong API key -> AuthenticationError', async () => {
    const wrong = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0, timeout: REQUEST_TIMEOUT_MS });
    await expectApiError(wrong.models.list(), OpenAI.AuthenticationError, 401);
    await expectApiError(
      wrong.chat.completions.create({ ...greedy, messages: chatMessages, max_tokens: 1 }),
      OpenAI.AuthenticationError, 401);
  });

  await step('temperature -1 -> BadRequestError', async () => {
    const err = await expectApiError(
      client.completions.create({ model: MODEL, prompt: 'Hello', max_tokens: 1, temperature: -1 }),
      OpenAI.BadRequestError, 400);
    assert.equal(err.param, 'temperature', 'error.param');
    const chatErr = await expectApiError(
      client.chat.completions.create({ model: MODEL, messages: chatMessages, max_tokens: 1, temperature: -1 }),
      OpenAI.BadRequestError, 400);
    assert.equal(chatErr.param, 'temperature', 'chat: error.param');
  });

  await step('max_tokens past the context -> BadRequestError', async () => {
    for (const request of [
      () => client.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 100000 }),
      () => client.chat.completions.create({ ...greedy, messages: chatMessages, max_tokens: 100000 }),
    ]) {
      const err = await expectApiError(request(), OpenAI.BadRequestError, 400);
      assert.match(err.message, /maximum context length/, 'message');
      assert.ok(err.message.includes('100000'), `message should name max_tokens 100000: ${err.message}`);
      assert.ok(err.message.includes(String(maxModelLen)),
                `message should name the maximum context length ${maxModelLen}: ${err.message}`);
    }
  });

  await step('the server still serves after the errors', async () => {
    const r = await client.completions.create({ ...greedy, prompt: 'Hello', max_tokens: 8 });
    assert.equal(r.choices[0].text, plainText, 'same greedy text as before');
  });

  current = 'SIGTERM -> exit code 0';
  const exit = await stopServer();
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status (log tail:\n${logTail(10)})`);
  console.log(`ok   ${current}`);
  console.log('all OpenAI SDK checks passed');
}

try {
  await main();
  process.exit(0);
} catch (err) {
  await fail(err);
}
