#!/usr/bin/env node
// Time vc-js signing and verifying credentials, in this one process.
//
//   node tests/interop/vcjs_bench.mjs < request.json
//
// request: {credential | credentials: [...], key, suite, created?,
//           controllers?, didKeyFormat?, mandatoryPointers?,
//           selectivePointers?, iterations, warmup}
// answer (stdout, JSON): {sign: stats, verify: stats, proofValue, node,
//                         versions} with stats = {n, ops_per_s, p50_ms,
//                         p99_ms, mean_ms}.
// Suite objects and the document loader are built once, as a long-running
// issuer would. With `credentials` (warmup + iterations of them, all
// different), every call signs a different credential and every verification
// checks a different signed credential, so no cache sees the same document
// twice; with one `credential`, each sign call gets a fresh copy of it.
// ecdsa-sd-2023: "sign" makes base proofs, "verify" checks what a verifier
// receives, a disclosure derived (untimed) with `selectivePointers`.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';

import {
  describeError, disclosingSuite, makeDocumentLoader, signingSuite,
  verifyingSuites
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function stats(samplesNs, cpuMicros) {
  const ms = samplesNs.map(ns => Number(ns) / 1e6).sort((a, b) => a - b);
  const total = ms.reduce((a, b) => a + b, 0);
  const pct = p => ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)];
  return {
    n: ms.length,
    ops_per_s: ms.length / (total / 1000),
    // per CPU second of this process (all its threads): load on a shared
    // machine slows the wall clock, not this
    cpu_ops_per_s: ms.length / (cpuMicros / 1e6),
    mean_ms: total / ms.length,
    p50_ms: pct(0.50),
    p99_ms: pct(0.99)
  };
}

async function timeIt(fn, warmup, iterations) {
  for(let i = 0; i < warmup; ++i) {
    await fn(i);
  }
  const samples = [];
  let cpu = 0;
  for(let i = warmup; i < warmup + iterations; ++i) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn(i);
    samples.push(process.hrtime.bigint() - t0);
    const used = process.cpuUsage(c0);
    cpu += used.user + used.system;
  }
  return stats(samples, cpu);
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
  const credentials = req.credentials ?? [req.credential];
  const credentialAt = i => credentials[i % credentials.length];

  const sign = i => vc.issue({
    credential: structuredClone(credentialAt(i)), suite, documentLoader,
    now: req.created
  });
  const toVerifier = async signed => req.suite !== 'ecdsa-sd-2023' ? signed :
    vc.derive({
      verifiableCredential: signed, documentLoader,
      suite: disclosingSuite({selectivePointers: req.selectivePointers ?? []})
    });
  const first = await sign(0);
  const signed = [];
  for(let i = 0; i < Math.min(credentials.length, warmup + iterations); ++i) {
    signed.push(await toVerifier(i === 0 ? first : await sign(i)));
  }
  const verify = async i => {
    const result = await vc.verifyCredential({
      credential: signed[i % signed.length], suite: verifySuites,
      documentLoader, checkStatus: async () => ({verified: true})
    });
    if(!result.verified) {
      throw new Error(`vc-js did not verify its own credential: ${
        describeError(result.error)}`);
    }
  };
  await verify(0);

  const signStats = await timeIt(sign, warmup, iterations);
  const verifyStats = await timeIt(verify, warmup, iterations);
  process.stdout.write(JSON.stringify({
    sign: signStats,
    verify: verifyStats,
    proofValue: [].concat(first.proof)[0].proofValue,
    node: process.version,
    versions: versions()
  }) + '\n');
}

main().catch(e => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exitCode = 2;
});
