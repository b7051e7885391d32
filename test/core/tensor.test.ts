// The tensor type: construction, views, matmul, softmax and seeded randn.

import { describe, expect, it } from "vitest";
import { matmul, randn, softmax, tensor, Tensor, zeros } from "../../src/index.js";

describe("tensor()", () => {
  it("infers shape and dtype from nested arrays", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float64");
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("stores booleans as 1 and 0", () => {
    expect(tensor([true, false]).toArray()).toEqual([1, 0]);
  });

  it("takes a flat typed array with a shape", () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(t.dtype).toBe("float32");
    expect(t.get(2, 1)).toBe(6);
  });

  it("rejects a shape whose product does not match", () => {
    expect(() => tensor(new Float64Array(6), { shape: [4, 2] })).toThrow(RangeError);
    expect(() => tensor(new Float64Array(6), { shape: [4, 2] })).toThrow(
      "options.shape [4, 2] holds 8 elements, but values has 6",
    );
  });

  it("rejects an unknown dtype", () => {
    expect(() => tensor([1], { dtype: "int8" as "float32" })).toThrow(TypeError);
    expect(() => tensor([1], { dtype: "int8" as "float32" })).toThrow('options.dtype is "int8"');
  });

  it("rejects a value that is not an array", () => {
    expect(() => tensor("12" as unknown as number[])).toThrow(TypeError);
  });

  it("rejects a negative dim in a shape", () => {
    expect(() => zeros([2, -1])).toThrow("zeros: shape[1] is -1; expected an integer >= 0");
  });
});

describe("views", () => {
  it("transposes the last two dims as a view", () => {
    const t = tensor([
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ]);
    const v = t.transpose();
    expect(v.shape).toEqual([1, 3, 2]);
    expect(v.data).toBe(t.data);
    expect(v.toArray()).toEqual([
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
    ]);
    expect(v.isContiguous).toBe(false);
    expect(v.contiguous().toArray()).toEqual(v.toArray());
  });

  it("reshapes in row-major order", () => {
    expect(
      tensor([
        [1, 2],
        [3, 4],
      ])
        .transpose()
        .reshape([4])
        .toArray(),
    ).toEqual([1, 3, 2, 4]);
  });

  it("rejects a transpose dim out of range", () => {
    expect(() => tensor([[1]]).transpose(0, 2)).toThrow(
      "Tensor.transpose: dim1 is 2; expected an integer in [-2, 1]",
    );
  });

  it("get() rejects an index out of bounds", () => {
    expect(() => tensor([[1, 2]]).get(0, 2)).toThrow(RangeError);
  });

  it("astype converts between dtypes", () => {
    const t = tensor([0.1]).astype("float32");
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.get(0)).toBe(Math.fround(0.1));
  });
});

describe("matmul", () => {
  it("multiplies with broadcast leading dims", () => {
    const a = tensor([[[1, 2]], [[3, 4]]]); // [2, 1, 2]
    const b = tensor([[1], [1]]); // [2, 1]
    expect(matmul(a, b).toArray()).toEqual([[[3]], [[7]]]);
  });

  it("reads transposed views", () => {
    const a = randn([3, 4], { seed: 1 });
    const b = randn([5, 4], { seed: 2 });
    const viaView = matmul(a, b.transpose());
    const viaCopy = matmul(a, b.transpose().contiguous());
    expect(viaView.toArray()).toEqual(viaCopy.toArray());
    expect(viaView.shape).toEqual([3, 5]);
  });

  it("rejects inner dims that differ", () => {
    expect(() => matmul(randn([2, 3]), randn([2, 3]))).toThrow(
      "matmul: a [2, 3] has 3 columns but b [2, 3] has 2 rows",
    );
  });

  it("rejects mixed dtypes", () => {
    expect(() => matmul(randn([2, 2]), randn([2, 2], { dtype: "float32" }))).toThrow(TypeError);
  });
});

describe("softmax", () => {
  it("is stable for large logits", () => {
    const out = softmax(
      tensor([
        [1000, 1000],
        [-1000, 0],
      ]),
    ).toArray() as number[][];
    expect(out[0]).toEqual([0.5, 0.5]);
    expect(out[1][1]).toBe(1);
  });

  it("gives zeros for a row of -Infinity", () => {
    expect(softmax(tensor([[-Infinity, -Infinity]])).toArray()).toEqual([[0, 0]]);
  });

  it("works along another dim", () => {
    const out = softmax(
      tensor([
        [0, 1],
        [0, 1],
      ]),
      0,
    ).toArray() as number[][];
    expect(out[0]).toEqual([0.5, 0.5]);
  });
});

describe("randn", () => {
  it("is reproducible with a seed", () => {
    expect(randn([5], { seed: 42 }).toArray()).toEqual(randn([5], { seed: 42 }).toArray());
    expect(randn([5], { seed: 42 }).toArray()).not.toEqual(randn([5], { seed: 43 }).toArray());
  });

  it("has mean near 0 and variance near 1", () => {
    const x = Array.from(randn([20000], { seed: 7 }).data);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it("rejects a fractional seed", () => {
    expect(() => randn([2], { seed: 1.5 })).toThrow(
      "randn: options.seed is 1.5; expected an integer in [0, 2^32)",
    );
  });

  it("creates float32 tensors", () => {
    expect(randn([2], { seed: 1, dtype: "float32" })).toBeInstanceOf(Tensor);
    expect(randn([2], { seed: 1, dtype: "float32" }).dtype).toBe("float32");
  });
});

describe("rejected tensor arguments", () => {
  it("rejects a hole in a sparse shape", () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => zeros([2, , 3] as number[])).toThrow(TypeError);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => randn([2, , 3] as number[], { seed: 1 })).toThrow(
      "randn: shape[1] is undefined; expected an integer >= 0",
    );
  });

  it("rejects unknown option names", () => {
    expect(() => randn([2], { Seed: 1 } as object)).toThrow(
      "randn: options.Seed is not an option; expected only seed, dtype",
    );
    expect(() => tensor([1], { dtyp: "float32" } as object)).toThrow(TypeError);
  });

  it("rejects options that are not a plain object", () => {
    expect(() => zeros([2], "float32" as unknown as object)).toThrow(
      'zeros: options is "float32"; expected a plain object with any of dtype',
    );
    expect(() => randn([2], null as unknown as object)).toThrow(TypeError);
  });

  it("rejects a shape too large to allocate", () => {
    expect(() => zeros([2 ** 40])).toThrow(
      "zeros: shape [1099511627776] has 1099511627776 elements; expected at most 4294967295",
    );
  });

  it("rejects an index that is not a number", () => {
    expect(() => tensor([[1, 2]]).get("1" as unknown as number, 0)).toThrow(
      'Tensor.get: index[0] is "1"; expected an integer',
    );
    expect(() => tensor([[1, 2]]).transpose(null as unknown as number, 1)).toThrow(TypeError);
    expect(() => softmax(tensor([1, 2]), "0" as unknown as number)).toThrow(TypeError);
  });

  it("rejects transposing a scalar", () => {
    expect(() => tensor(5).transpose()).toThrow(
      "Tensor.transpose: dim0 is -2, but the tensor has no dims (a scalar)",
    );
  });

  it("softmax of a scalar is 1", () => {
    expect(softmax(tensor(5)).toArray()).toBe(1);
  });

  it("the constructor rejects data that is not a float typed array", () => {
    expect(() => new Tensor(new Int32Array([1, 2]) as unknown as Float64Array, [2])).toThrow(
      "new Tensor: data is a Int32Array",
    );
  });

  it("the constructor rejects a shape larger than the data", () => {
    expect(() => new Tensor(new Float64Array(2), [3])).toThrow(
      "reads elements 0 to 2, but data has 2",
    );
  });

  it("toFlat respects the offset of a view", () => {
    const view = new Tensor(new Float64Array([0, 1, 2, 3, 4]), [2], [1], 3);
    expect(Array.from(view.toFlat())).toEqual([3, 4]);
  });
});
