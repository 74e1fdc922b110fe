import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { concatImageSets } from "./image_set.ts";
import { loadDataset } from "./datasets.ts";
import { datasetInfo, DATASETS, debianFashionDir } from "./dataset_registry.ts";
import { ensureDatasetFiles, resolveCacheDir } from "./dataset_cache.ts";
import { DatasetError } from "./errors.ts";
import { fabricateDataset } from "./fixture_files.ts";
import {
  DEBIAN_FASHION_MNIST,
  testNeeding,
} from "../../tests/helpers/optional.ts";

/** Serves files from memory on 127.0.0.1, counting requests per path. */
function serve(files: Record<string, Uint8Array>) {
  const ac = new AbortController();
  const hits: Record<string, number> = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    (req) => {
      const name = new URL(req.url).pathname.split("/").pop()!;
      hits[name] = (hits[name] ?? 0) + 1;
      const body = files[name];
      return body
        ? new Response(body as Uint8Array<ArrayBuffer>)
        : new Response("not here", { status: 404 });
    },
  );
  return {
    base: `http://127.0.0.1:${server.addr.port}/files/`,
    hits,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("loadDataset over HTTP: each real format fetches, verifies, parses to the fabricated pixels, then loads from cache", async () => {
  const cache = await Deno.makeTempDir();
  try {
    for (
      const name of ["cifar10", "cifar100", "svhn", "fashion-mnist"] as const
    ) {
      const fab = await fabricateDataset(name, { n: 10, seed: 3 });
      const srv = serve(fab.files);
      try {
        const opts = {
          cacheDir: cache,
          baseUrls: [srv.base],
          checksums: fab.md5,
          useDefaultSources: false,
        };
        const tr = await loadDataset(name, { ...opts, split: "train" });
        assertEquals(tr.images, fab.train.images, name);
        assertEquals(tr.labels, fab.train.labels, name);
        assertEquals([tr.height, tr.width, tr.channels], [
          DATASETS[name].height,
          DATASETS[name].width,
          DATASETS[name].channels,
        ]);
        const te = await loadDataset(name, { ...opts, split: "test" });
        assertEquals(te.images, fab.test.images, name);
        assertEquals(te.labels, fab.test.labels, name);
        assert(
          tr.files.every((f) =>
            f.origin === "download" || f.origin === "cache"
          ),
        );
        // second load: from the cache, no new requests, also with downloads off
        const before = JSON.stringify(srv.hits);
        const again = await loadDataset(name, {
          ...opts,
          split: "test",
          download: false,
        });
        assertEquals(again.labels, fab.test.labels);
        assert(again.files.every((f) => f.origin === "cache"));
        assertEquals(JSON.stringify(srv.hits), before);
        if (name === "svhn") {
          const both = await loadDataset(name, { ...opts, extra: true });
          const want = concatImageSets([fab.train, fab.extra!]);
          assertEquals(both.n, 20);
          assertEquals(both.images, want.images);
          assertEquals(both.labels, want.labels);
        }
      } finally {
        await srv.close();
      }
    }
    // the cache holds only complete, verified files (no .part, no temp files)
    const left = [...Deno.readDirSync(`${cache}/svhn`)].map((e) => e.name)
      .sort();
    assertEquals(left, [
      ".verified.json",
      "extra_32x32.mat",
      "test_32x32.mat",
      "train_32x32.mat",
    ]);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("loadDataset: a wrong checksum is an error and leaves no cache file; a corrupt cached file is replaced", async () => {
  const cache = await Deno.makeTempDir();
  const fab = await fabricateDataset("cifar10", { n: 5, seed: 1 });
  const srv = serve(fab.files);
  try {
    const e = await assertRejects(() =>
      loadDataset("cifar10", {
        cacheDir: cache,
        baseUrls: [srv.base],
        checksums: { "cifar-10-binary.tar.gz": "f".repeat(32) },
      })
    );
    assertInstanceOf(e, DatasetError);
    assertEquals(e.code, "checksum");
    assertStringIncludes(e.message, "cifar-10-binary.tar.gz");
    const files = [...Deno.readDirSync(`${cache}/cifar10`)].map((f) => f.name);
    assertEquals(
      files.filter((f) => f.endsWith(".tar.gz") || f.endsWith(".part")),
      [],
    );
    // corrupt cache file: removed and fetched again
    await Deno.writeFile(
      `${cache}/cifar10/cifar-10-binary.tar.gz`,
      new Uint8Array(100),
    );
    const d = await loadDataset("cifar10", {
      cacheDir: cache,
      baseUrls: [srv.base],
      checksums: fab.md5,
      split: "test",
    });
    assertEquals(d.files[0].origin, "download");
    assertEquals(d.labels, fab.test.labels);
  } finally {
    await srv.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("loadDataset: local source folders are used in place; offline and missing is a clear not-found", async () => {
  const cache = await Deno.makeTempDir();
  const src = await Deno.makeTempDir();
  try {
    const fab = await fabricateDataset("svhn", { n: 6, seed: 2, dir: src });
    const d = await loadDataset("svhn", {
      cacheDir: cache,
      sourceDirs: [src],
      checksums: fab.md5,
      download: false,
      split: "test",
    });
    assertEquals(d.files[0].origin, "local");
    assertEquals(d.files[0].path, `${src}/test_32x32.mat`);
    assertEquals(d.images, fab.test.images);
    const e = await assertRejects(() =>
      loadDataset("cifar100", {
        cacheDir: cache,
        download: false,
        useDefaultSources: false,
      })
    );
    assertInstanceOf(e, DatasetError);
    assertEquals(e.code, "not-found");
    assertStringIncludes(e.message, "cifar-100-binary.tar.gz");
    assert(!e.message.includes("\n"));
    // a mismatching local file is reported, not used
    const e2 = await assertRejects(() =>
      ensureDatasetFiles("svhn", {
        cacheDir: cache,
        sourceDirs: [src],
        download: false,
        only: ["test_32x32.mat"],
      })
    );
    assertEquals((e2 as DatasetError).code, "checksum");
  } finally {
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(src, { recursive: true });
  }
});

await testNeeding(DEBIAN_FASHION_MNIST, {
  name:
    "real Fashion-MNIST from Debian's dataset-fashion-mnist: 60,000 / 10,000 images, 6,000 / 1,000 per class",
  async fn() {
    const cache = await Deno.makeTempDir();
    try {
      for (
        const [split, n, per] of [["train", 60_000, 6_000], [
          "test",
          10_000,
          1_000,
        ]] as const
      ) {
        const d = await loadDataset("fashion-mnist", {
          cacheDir: cache,
          split,
          download: false,
        });
        assertEquals([d.n, d.height, d.width, d.channels], [n, 28, 28, 1]);
        const hist = new Array(10).fill(0);
        for (const l of d.labels) hist[l]++;
        assertEquals(hist, new Array(10).fill(per));
        for (const f of d.files) {
          assertEquals(f.origin, "local");
          assertStringIncludes(f.path, debianFashionDir());
          // recompressed by Debian: accepted through the decompressed content's SHA-256
          assertStringIncludes(f.verified, "content-sha256");
        }
        if (split === "train") {
          // pixel mean matches the training split's known 0.2859 (to 4 decimals)
          let s = 0;
          for (const v of d.images) s += v;
          assertEquals(
            Math.round((s / d.images.length / 255) * 1e4) / 1e4,
            0.286,
          );
        }
      }
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test("metadata, aliases, cache dir resolution, synthetic-images", async () => {
  assertEquals(datasetInfo("CIFAR-100").numClasses, 100);
  assertEquals(datasetInfo("fashion").mean, [0.2859]);
  assertEquals(DATASETS.svhn.trainSize + DATASETS.svhn.extraSize!, 604_388);
  const e = (() => {
    try {
      datasetInfo("imagenet");
    } catch (e) {
      return e as DatasetError;
    }
  })()!;
  assertEquals(e.code, "usage");
  assertStringIncludes(e.message, "imagenet");
  assertEquals(resolveCacheDir("/x"), "/x");
  const old = Deno.env.get("POF_DATA_DIR");
  Deno.env.set("POF_DATA_DIR", "/tmp/pof-data-env");
  assertEquals(resolveCacheDir(), "/tmp/pof-data-env");
  Deno.env.delete("POF_DATA_DIR");
  assertEquals(resolveCacheDir(), "./data");
  if (old !== undefined) Deno.env.set("POF_DATA_DIR", old);
  // synthetic-images: deterministic, and its classes are separable (nearest class-mean
  // colour gets far above the 10% chance level on the test split)
  const tr = await loadDataset("synthetic-images", { n: 400 });
  const te = await loadDataset("synthetic-images", { split: "test", n: 200 });
  assertEquals(
    tr.images,
    (await loadDataset("synthetic-images", { n: 400 })).images,
  );
  const feat = (s: typeof tr, i: number) => {
    const f = [0, 0, 0];
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) {
        f[c] += s.images[i * 3072 + 3 * p + c] / 1024;
      }
    }
    return f;
  };
  const centres = Array.from({ length: 10 }, () => [0, 0, 0, 0]);
  for (let i = 0; i < tr.n; i++) {
    const f = feat(tr, i);
    const c = centres[tr.labels[i]];
    for (let k = 0; k < 3; k++) c[k] += f[k];
    c[3]++;
  }
  let right = 0;
  for (let i = 0; i < te.n; i++) {
    const f = feat(te, i);
    let best = -1, bd = Infinity;
    centres.forEach((c, k) => {
      const d = (f[0] - c[0] / c[3]) ** 2 + (f[1] - c[1] / c[3]) ** 2 +
        (f[2] - c[2] / c[3]) ** 2;
      if (d < bd) [bd, best] = [d, k];
    });
    if (best === te.labels[i]) right++;
  }
  assert(right / te.n > 0.5, `nearest-mean accuracy ${right / te.n}`);
});
