#!/usr/bin/env node
// Time vc-js signing and verifying one credential, in this one process.
//
//   node tests/interop/vcjs_bench.mjs < request.json
//
// request: {credential, key, suite, created?, controllers?, didKeyFormat?,
//           iterations, warmup}
// answer (stdout, JSON): {sign: stats, verify: stats, proofValue, node,
//                         versions} with stats = {n, ops_per_s, p50_ms,
//                         p99_ms, mean_ms}.
// Suite objects and the document loader are built once, as a long-running
// issuer would; each sign call gets a fresh copy of the credential.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';

import {
  describeError, makeDocumentLoader, signingSuite, verifyingSuites
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function stats(samplesNs) {
  const ms = samplesNs.map(ns => Number(ns) / 1e6).sort((a, b) => a - b);
  const total = ms.reduce((a, b) => a + b, 0);
  const pct = p => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
  return {
    n: ms.length,
    ops_per_s: ms.length / (total / 1000),
    mean_ms: total / ms.length,
    p50_ms: pct(0.50),
    p99_ms: pct(0.99)
  };
}

async function timeIt(fn, warmup, iterations) {
  for(let i = 0; i < warmup; ++i) {
    await fn();
  }
  const samples = [];
  for(let i = 0; i < iterations; ++i) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(process.hrtime.bigint() - t0);
  }
  return stats(samples);
}

function versions() {
  const pkg = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  return pkg.dependencies;
}

async function main() {
  const req = await readStdin();
  const iterations = req.iterations ?? 200;
  const warmup = req.warmup ?? 20;
  const documentLoader = makeDocumentLoader(req);
  const suite = await signingSuite(req);
  const verifySuites = verifyingSuites();

  const sign = () => vc.issue({
    credential: structuredClone(req.credential), suite, documentLoader,
    now: req.created
  });
  const signed = await sign();
  const verify = async () => {
    const result = await vc.verifyCredential({
      credential: signed, suite: verifySuites, documentLoader,
      checkStatus: async () => ({verified: true})
    });
    if(!result.verified) {
      throw new Error(`vc-js did not verify its own credential: ${
        describeError(result.error)}`);
    }
  };
  await verify();

  const signStats = await timeIt(sign, warmup, iterations);
  const verifyStats = await timeIt(verify, warmup, iterations);
  process.stdout.write(JSON.stringify({
    sign: signStats,
    verify: verifyStats,
    proofValue: [].concat(signed.proof)[0].proofValue,
    node: process.version,
    versions: versions()
  }) + '\n');
}

main().catch(e => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exitCode = 2;
});
