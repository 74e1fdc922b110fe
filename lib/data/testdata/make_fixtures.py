"""Regenerates the independent fixtures used by lib/data/*_test.ts.

Written with scipy.io and Python's tarfile (not this project's writers), so the
readers are tested against files made by other software. Pixel values follow
closed formulas that the tests recompute:
  SVHN:  X[h, w, c, n] = (7h + 3w + 50c + 11n) mod 256, y = [10, 1, 5]
  CIFAR: image i of member m, pixel (h, w, c) = (5h + 9w + 40c + 17i + 60m) mod 256,
         label = (3i + m) mod 10
Run: python3 make_fixtures.py (scipy, numpy).
"""
import io
import tarfile
import gzip
import numpy as np
import scipy.io

h, w, c, n = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), np.arange(3), indexing="ij")
X = ((7 * h + 3 * w + 50 * c + 11 * n) % 256).astype(np.uint8)
y = np.array([[10.0], [1.0], [5.0]])
scipy.io.savemat("svhn_scipy_compressed.mat", {"X": X, "y": y}, do_compression=True, format="5")
scipy.io.savemat("svhn_scipy_plain.mat", {"X": X, "y": y}, do_compression=False, format="5")

members = [f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)] + ["cifar-10-batches-bin/test_batch.bin"]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
    for m, name in enumerate(members):
        recs = bytearray()
        for i in range(2):
            recs.append((3 * i + m) % 10)
            hh, ww, cc = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
            img = ((5 * hh + 9 * ww + 40 * cc + 17 * i + 60 * m) % 256).astype(np.uint8)
            recs += img.transpose(2, 0, 1).tobytes()  # CHW planes, row-major
        info = tarfile.TarInfo(name)
        info.size = len(recs)
        tar.addfile(info, io.BytesIO(bytes(recs)))
with open("cifar10_tarfile.tar.gz", "wb") as f:
    f.write(gzip.compress(buf.getvalue(), mtime=0))
