import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { useBackend } from "../backend.ts";
import { Rng } from "../rng.ts";
import { augmentBatch } from "./augment.ts";
import { DataLoader, type LoaderState } from "./loader.ts";
import { syntheticImages } from "./synthetic_images.ts";

await useBackend("cpu");

const set = syntheticImages({ n: 50, seed: 11 });
const aug = {
  mean: [0.5, 0.5, 0.5],
  std: [0.25, 0.25, 0.25],
  pad: 4,
  flip: true,
  cutout: 8,
};

Deno.test("loader: every index appears exactly once per epoch (keep-last), and n - n mod B distinct ones with drop-last", () => {
  const keep = new DataLoader(set, {
    batchSize: 8,
    seed: 1,
    augment: aug,
    dropLast: false,
  });
  assertEquals(keep.batchesPerEpoch, 7);
  for (let e = 0; e < 3; e++) {
    const seen: number[] = [];
    for (let k = 0; k < 7; k++) seen.push(...keep.hostBatch(e, k).indices);
    assertEquals(
      seen.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
  }
  const drop = new DataLoader(set, { batchSize: 8, seed: 1, augment: aug });
  assertEquals(drop.batchesPerEpoch, 6);
  const seen = new Set<number>();
  for (let k = 0; k < 6; k++) {
    for (const i of drop.hostBatch(0, k).indices) seen.add(i);
  }
  assertEquals(seen.size, 48);
});

Deno.test("loader: same seed same order and pixels; other seed or epoch, other order", () => {
  const a = new DataLoader(set, { batchSize: 10, seed: 5, augment: aug });
  const b = new DataLoader(set, { batchSize: 10, seed: 5, augment: aug });
  const c = new DataLoader(set, { batchSize: 10, seed: 6, augment: aug });
  assertEquals(a.order(0), b.order(0));
  assertEquals(a.hostBatch(0, 2).x, b.hostBatch(0, 2).x);
  assertNotEquals(Array.from(a.order(0)), Array.from(c.order(0)));
  assertNotEquals(Array.from(a.order(0)), Array.from(a.order(1)));
  // order is the documented permutation
  assertEquals(a.order(3), new Rng(5).fork("order/3").permutation(50));
  // and batch pixels are the documented augmentation of those indices
  const hb = a.hostBatch(3, 1);
  const want = augmentBatch(
    set,
    a.order(3).slice(10, 20),
    aug,
    new Rng(5).fork("aug/3/1"),
  );
  assertEquals(hb.x, want.x);
  assertEquals(hb.y, want.y);
});

Deno.test("loader: batches() with prefetch yields hostBatch's contents, then moves to the next epoch", async () => {
  const l = new DataLoader(set, { batchSize: 16, seed: 2, augment: aug });
  let k = 0;
  for await (const b of l.batches()) {
    const want = l.hostBatch(0, k);
    assertEquals(b.x.shape, [16, 32, 32, 3]);
    assertEquals(b.x.dataSync(), want.x);
    assertEquals(b.y.dataSync(), want.y);
    b.x.dispose();
    b.y.dispose();
    k++;
    assertEquals(l.state().position, k);
  }
  assertEquals(k, 3);
  assertEquals(l.state(), { seed: 2, epoch: 1, position: 0, weakCount: 0 });
});

Deno.test("loader: a checkpointed state (JSON) resumes the identical batch and weak-batch sequence", async () => {
  const run = new DataLoader(set, { batchSize: 7, seed: 9, augment: aug });
  const all: number[][] = [];
  // 1.5 epochs uninterrupted, with weak batches interleaved
  const weakAll: number[][] = [];
  for (let i = 0; i < 10; i++) {
    const b = run.nextHost();
    all.push(Array.from(b.x.subarray(0, 50)));
    weakAll.push(Array.from(run.hostWeakBatch(i).indices));
  }
  // the same, interrupted after 4 batches and 2 weak batches
  const first = new DataLoader(set, { batchSize: 7, seed: 9, augment: aug });
  const got: number[][] = [];
  for await (const b of first.batches()) {
    got.push(Array.from(b.x.dataSync().subarray(0, 50)));
    b.x.dispose();
    b.y.dispose();
    if (got.length === 4) break;
  }
  first.weakBatch().x.dispose();
  first.weakBatch().x.dispose();
  const saved = JSON.parse(JSON.stringify(first.state())) as LoaderState;
  assertEquals(saved, { seed: 9, epoch: 0, position: 4, weakCount: 2 });
  const resumed = new DataLoader(
    set,
    { batchSize: 7, seed: 123, augment: aug },
    saved,
  );
  while (got.length < 10) {
    for await (const b of resumed.batches()) {
      got.push(Array.from(b.x.dataSync().subarray(0, 50)));
      b.x.dispose();
      b.y.dispose();
      if (got.length === 10) break;
    }
  }
  assertEquals(got, all);
  const w = resumed.weakBatch();
  assertEquals(Array.from(w.y.dataSync()), Array.from(run.hostWeakBatch(2).y));
  w.x.dispose();
  w.y.dispose();
  assertEquals(resumed.state().weakCount, 3);
});

Deno.test("loader: weak batches are 32 draws with replacement through the training augmentation", () => {
  const l = new DataLoader(set, { batchSize: 8, seed: 4, augment: aug });
  const w = l.weakBatch();
  assertEquals(w.x.shape, [32, 32, 32, 3]);
  const hb = l.hostWeakBatch(0);
  assertEquals(w.x.dataSync(), hb.x);
  const r = new Rng(4).fork("weak/0");
  const idx = Array.from({ length: 32 }, () => r.int(50));
  assertEquals(Array.from(hb.indices), idx);
  assertEquals(Array.from(hb.y), idx.map((i) => set.labels[i]));
  // augmentation draws continue on the same stream after the indices
  assertEquals(hb.x, augmentBatch(set, idx, aug, r).x);
  w.x.dispose();
  w.y.dispose();
  // with replacement: 32 draws from 50 repeat an index with probability > 99.99%
  assert(new Set(idx).size < 32);
});

Deno.test("loader: test mode keeps order, normalises only and keeps the last partial batch", () => {
  const l = new DataLoader(set, {
    batchSize: 16,
    seed: 0,
    augment: aug,
    train: false,
  });
  assertEquals(l.batchesPerEpoch, 4);
  const last = l.hostBatch(0, 3);
  assertEquals(Array.from(last.indices), [48, 49]);
  assertEquals(last.x, augmentBatch(set, [48, 49], aug, null).x);
  assertThrows(
    () => new DataLoader(set, { batchSize: 0, seed: 0, augment: aug }),
    RangeError,
    "got 0",
  );
  assertThrows(
    () => l.setState({ seed: 0, epoch: 0, position: 9, weakCount: 0 }),
    RangeError,
    "9",
  );
});

Deno.test("loader: worker prefetch yields exactly the main-thread batches, resumes mid-epoch, and stops cleanly on break", async () => {
  const l = new DataLoader(set, { batchSize: 8, seed: 21, augment: aug });
  const t0 = performance.now();
  let k = 0;
  for await (const b of l.batches({ worker: true, depth: 3 })) {
    assertEquals(b.x.dataSync(), l.hostBatch(0, k).x);
    assertEquals(b.y.dataSync(), l.hostBatch(0, k).y);
    b.x.dispose();
    b.y.dispose();
    k++;
  }
  assertEquals(k, 6);
  assertEquals(l.state().epoch, 1);
  const ms = performance.now() - t0;
  // break after two batches of epoch 1, then resume on the main thread
  for await (const b of l.batches({ worker: true })) {
    b.x.dispose();
    b.y.dispose();
    if (l.state().position === 2) break;
  }
  assertEquals(l.state(), { seed: 21, epoch: 1, position: 2, weakCount: 0 });
  const b = l.next();
  assertEquals(b.x.dataSync(), l.hostBatch(1, 2).x);
  b.x.dispose();
  b.y.dispose();
  assert(ms < 30_000, `worker epoch took ${ms} ms`);
});
