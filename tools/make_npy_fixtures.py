"""Writes the small .npy files that tests/test_npy.c reads, with NumPy itself.

    .venv/bin/python tools/make_npy_fixtures.py      (or any python3 with numpy)

Every file is tiny and deterministic; the C test knows the values written here. Files that the
loader must refuse (another dtype, Fortran order, big-endian, too many dimensions) are written by
NumPy too, so the refusals are tested on real files. Truncated and corrupted files are made by the
C test from these.
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "npy")


def save(name, array, version=None):
    path = os.path.join(OUT, name)
    if version is None:
        np.save(path, array, allow_pickle=False)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=version, allow_pickle=False)
    back = np.load(path, allow_pickle=False)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    # float32 (2, 3): 0.5, -1.25, 3, 1e-20, -7.5e10, 0.1 (0.1 is not exact: float32's nearest)
    f4 = np.array([[0.5, -1.25, 3.0], [1e-20, -7.5e10, 0.1]], dtype="<f4")
    save("f4_2x3.npy", f4)
    # float64 (4,): values that round, one beyond float32's range, negative zero
    save("f8_4.npy", np.array([0.1, -2.5, 1e300, -0.0], dtype="<f8"))
    # int32 (2, 2) and int64 (3,): negatives, and 2^40 + 1 (rounds to 2^40 in float32)
    save("i4_2x2.npy", np.array([[1, -2], [2147483647, -2147483648]], dtype="<i4"))
    save("i8_3.npy", np.array([7, -9, 2 ** 40 + 1], dtype="<i8"))
    # rank 0, rank 4, an empty array, version 2.0 and 3.0 headers
    save("f4_scalar.npy", np.array(2.75, dtype="<f4"))
    save("f4_rank4.npy", np.arange(24, dtype="<f4").reshape(1, 2, 3, 4))
    save("f4_empty.npy", np.zeros((0, 3), dtype="<f4"))
    save("f4_v2.npy", np.array([1.5, -2.5, 3.5], dtype="<f4"), version=(2, 0))
    save("f8_v3.npy", np.array([[4.0], [5.0]], dtype="<f8"), version=(3, 0))
    # refused: Fortran order, big-endian, other dtypes, rank 5, a structured dtype
    save("f4_fortran.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
    save("f4_bigendian.npy", np.array([1.0, 2.0], dtype=">f4"))
    save("f2.npy", np.array([1.0, 2.0], dtype="<f2"))
    save("u1.npy", np.array([1, 2, 3], dtype="u1"))
    save("bool.npy", np.array([True, False]))
    save("c8.npy", np.array([1 + 2j], dtype="<c8"))
    save("f4_rank5.npy", np.zeros((1, 1, 1, 1, 2), dtype="<f4"))
    save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))


if __name__ == "__main__":
    main()
