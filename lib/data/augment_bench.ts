// Throughput of the CIFAR training augmentation (pad 4 + crop 32, flip,
// normalise, cutout 16) on one core: `deno bench lib/data/augment_bench.ts`.
// Target: >= 10,000 images/s (a 256-image batch in <= 25.6 ms).
import { Rng } from "../rng.ts";
import { augmentBatch } from "./augment.ts";
import { DATASETS } from "./dataset_registry.ts";
import { DataLoader } from "./loader.ts";
import { syntheticImages } from "./synthetic_images.ts";

const set = syntheticImages({ n: 2048, seed: 0 });
const info = DATASETS.cifar10;
const cfg = { mean: info.mean, std: info.std, ...info.augment };
const rng = new Rng(0);
const out = new Float32Array(256 * 3072);
const idx = Array.from({ length: 256 }, (_, i) => (i * 7) % 2048);

Deno.bench(
  "augment 256 CIFAR images (pad+crop, flip, normalise, cutout)",
  () => {
    augmentBatch(set, idx, cfg, rng, out);
  },
);

Deno.bench("normalise 256 CIFAR images (test mode)", () => {
  augmentBatch(set, idx, cfg, null, out);
});

const loader = new DataLoader(set, { batchSize: 256, seed: 0, augment: cfg });
Deno.bench(
  "DataLoader.nextHost, batch 256 (shuffle + augment + allocate)",
  () => {
    loader.nextHost();
  },
);
