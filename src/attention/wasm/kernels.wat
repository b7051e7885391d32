;; WebAssembly SIMD versions of dotTile and weightTile (src/attention/blocked.ts).
;;
;; Rebuild the embedded bytes with `node scripts/build-wasm.mjs`, which
;; assembles this file with wabt and writes kernels.generated.ts next to it.
;;
;; Every address argument is an index into the memory viewed as float64
;; (byte address / 8), and every stride counts float64 elements. Arithmetic is
;; f64x2 without fused multiply-add, and each output is a sum in the same
;; order as the TypeScript kernels (one product added at a time, in key or
;; feature order), so both give the same bits. The SIMD lanes run over
;; different outputs, never over the terms of one sum.

(module
  (memory (export "memory") 1)

  ;; dotTile: out[out + r * outStride + n] = sum over e of
  ;; a[a + 4 e + r] * b[b + n * bStride + e], for rows r in 0..3 and keys n in
  ;; n0 .. n1. The 4 query rows are interleaved (feature e of row r at 4 e + r),
  ;; so one v128 load reads 2 rows. A 4 x 4 tile holds 8 f64x2 sums.
  (func (export "dotTile")
    (param $a i32) (param $b i32) (param $bStride i32) (param $len i32)
    (param $n0 i32) (param $n1 i32) (param $out i32) (param $outStride i32)
    (local $n i32) (local $pa i32) (local $end i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $o i32) (local $os i32) (local $bs i32)
    (local $q01 v128) (local $q23 v128) (local $x v128)
    (local $s0a v128) (local $s0b v128) (local $s1a v128) (local $s1b v128)
    (local $s2a v128) (local $s2b v128) (local $s3a v128) (local $s3b v128)
    (local.set $bs (i32.shl (local.get $bStride) (i32.const 3)))
    (local.set $os (i32.shl (local.get $outStride) (i32.const 3)))
    (local.set $n (local.get $n0))
    ;; 4 keys at a time.
    (block $done4
      (loop $keys4
        (br_if $done4 (i32.gt_s (i32.add (local.get $n) (i32.const 4)) (local.get $n1)))
        (local.set $p0 (i32.shl
          (i32.add (local.get $b) (i32.mul (local.get $n) (local.get $bStride))) (i32.const 3)))
        (local.set $p1 (i32.add (local.get $p0) (local.get $bs)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $bs)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $bs)))
        (local.set $s0a (v128.const f64x2 0 0)) (local.set $s0b (v128.const f64x2 0 0))
        (local.set $s1a (v128.const f64x2 0 0)) (local.set $s1b (v128.const f64x2 0 0))
        (local.set $s2a (v128.const f64x2 0 0)) (local.set $s2b (v128.const f64x2 0 0))
        (local.set $s3a (v128.const f64x2 0 0)) (local.set $s3b (v128.const f64x2 0 0))
        (local.set $pa (i32.shl (local.get $a) (i32.const 3)))
        (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $len) (i32.const 5))))
        (block $doneE
          (loop $features
            (br_if $doneE (i32.ge_u (local.get $pa) (local.get $end)))
            (local.set $q01 (v128.load (local.get $pa)))
            (local.set $q23 (v128.load offset=16 (local.get $pa)))
            (local.set $x (v128.load64_splat (local.get $p0)))
            (local.set $s0a (f64x2.add (local.get $s0a) (f64x2.mul (local.get $q01) (local.get $x))))
            (local.set $s0b (f64x2.add (local.get $s0b) (f64x2.mul (local.get $q23) (local.get $x))))
            (local.set $x (v128.load64_splat (local.get $p1)))
            (local.set $s1a (f64x2.add (local.get $s1a) (f64x2.mul (local.get $q01) (local.get $x))))
            (local.set $s1b (f64x2.add (local.get $s1b) (f64x2.mul (local.get $q23) (local.get $x))))
            (local.set $x (v128.load64_splat (local.get $p2)))
            (local.set $s2a (f64x2.add (local.get $s2a) (f64x2.mul (local.get $q01) (local.get $x))))
            (local.set $s2b (f64x2.add (local.get $s2b) (f64x2.mul (local.get $q23) (local.get $x))))
            (local.set $x (v128.load64_splat (local.get $p3)))
            (local.set $s3a (f64x2.add (local.get $s3a) (f64x2.mul (local.get $q01) (local.get $x))))
            (local.set $s3b (f64x2.add (local.get $s3b) (f64x2.mul (local.get $q23) (local.get $x))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 32)))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
            (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
            (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
            (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
            (br $features)))
        ;; Row r of key n + k goes to o + r * os + 8 k.
        (local.set $o (i32.shl (i32.add (local.get $out) (local.get $n)) (i32.const 3)))
        (f64.store (local.get $o) (f64x2.extract_lane 0 (local.get $s0a)))
        (f64.store offset=8 (local.get $o) (f64x2.extract_lane 0 (local.get $s1a)))
        (f64.store offset=16 (local.get $o) (f64x2.extract_lane 0 (local.get $s2a)))
        (f64.store offset=24 (local.get $o) (f64x2.extract_lane 0 (local.get $s3a)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 1 (local.get $s0a)))
        (f64.store offset=8 (local.get $o) (f64x2.extract_lane 1 (local.get $s1a)))
        (f64.store offset=16 (local.get $o) (f64x2.extract_lane 1 (local.get $s2a)))
        (f64.store offset=24 (local.get $o) (f64x2.extract_lane 1 (local.get $s3a)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 0 (local.get $s0b)))
        (f64.store offset=8 (local.get $o) (f64x2.extract_lane 0 (local.get $s1b)))
        (f64.store offset=16 (local.get $o) (f64x2.extract_lane 0 (local.get $s2b)))
        (f64.store offset=24 (local.get $o) (f64x2.extract_lane 0 (local.get $s3b)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 1 (local.get $s0b)))
        (f64.store offset=8 (local.get $o) (f64x2.extract_lane 1 (local.get $s1b)))
        (f64.store offset=16 (local.get $o) (f64x2.extract_lane 1 (local.get $s2b)))
        (f64.store offset=24 (local.get $o) (f64x2.extract_lane 1 (local.get $s3b)))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $keys4)))
    ;; The last 0 to 3 keys one at a time.
    (block $done1
      (loop $keys1
        (br_if $done1 (i32.ge_s (local.get $n) (local.get $n1)))
        (local.set $p0 (i32.shl
          (i32.add (local.get $b) (i32.mul (local.get $n) (local.get $bStride))) (i32.const 3)))
        (local.set $s0a (v128.const f64x2 0 0)) (local.set $s0b (v128.const f64x2 0 0))
        (local.set $pa (i32.shl (local.get $a) (i32.const 3)))
        (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $len) (i32.const 5))))
        (block $doneE1
          (loop $features1
            (br_if $doneE1 (i32.ge_u (local.get $pa) (local.get $end)))
            (local.set $x (v128.load64_splat (local.get $p0)))
            (local.set $s0a (f64x2.add (local.get $s0a) (f64x2.mul (v128.load (local.get $pa)) (local.get $x))))
            (local.set $s0b (f64x2.add (local.get $s0b) (f64x2.mul (v128.load offset=16 (local.get $pa)) (local.get $x))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 32)))
            (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
            (br $features1)))
        (local.set $o (i32.shl (i32.add (local.get $out) (local.get $n)) (i32.const 3)))
        (f64.store (local.get $o) (f64x2.extract_lane 0 (local.get $s0a)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 1 (local.get $s0a)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 0 (local.get $s0b)))
        (local.set $o (i32.add (local.get $o) (local.get $os)))
        (f64.store (local.get $o) (f64x2.extract_lane 1 (local.get $s0b)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $keys1))))

  ;; weightTile: acc[acc + r * Ev + e] += sum over j in j0 .. j1 of
  ;; w[w + r * wStride + j] * v[v + j * vStride + e], for rows r in 0..3 and
  ;; features e in 0 .. Ev, with V row-major (not transposed). Keys go in
  ;; blocks of 512 so the 4 weight rows stay in L1 while the features loop
  ;; re-reads them. A 4 x 4 tile holds 8 f64x2 sums, then 4 x 2, then 4 x 1.
  (func (export "weightTile")
    (param $w i32) (param $wStride i32) (param $v i32) (param $vStride i32)
    (param $Ev i32) (param $j0 i32) (param $j1 i32) (param $acc i32)
    (local $jb i32) (local $jEnd i32) (local $e i32) (local $j i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $pv i32) (local $vs i32) (local $ws i32) (local $c i32) (local $cs i32)
    (local $x0 v128) (local $x1 v128) (local $y v128)
    (local $s0a v128) (local $s0b v128) (local $s1a v128) (local $s1b v128)
    (local $s2a v128) (local $s2b v128) (local $s3a v128) (local $s3b v128)
    (local $t0 f64) (local $t1 f64) (local $t2 f64) (local $t3 f64) (local $xs f64)
    (local.set $vs (i32.shl (local.get $vStride) (i32.const 3)))
    (local.set $ws (i32.shl (local.get $wStride) (i32.const 3)))
    (local.set $cs (i32.shl (local.get $Ev) (i32.const 3)))
    (local.set $jb (local.get $j0))
    (block $doneBlocks
      (loop $blocks
        (br_if $doneBlocks (i32.ge_s (local.get $jb) (local.get $j1)))
        (local.set $jEnd (i32.add (local.get $jb) (i32.const 512)))
        (if (i32.gt_s (local.get $jEnd) (local.get $j1)) (then (local.set $jEnd (local.get $j1))))
        (local.set $e (i32.const 0))
        ;; 4 features at a time.
        (block $done4
          (loop $features4
            (br_if $done4 (i32.gt_s (i32.add (local.get $e) (i32.const 4)) (local.get $Ev)))
            (local.set $c (i32.shl (i32.add (local.get $acc) (local.get $e)) (i32.const 3)))
            (local.set $s0a (v128.load (local.get $c)))
            (local.set $s0b (v128.load offset=16 (local.get $c)))
            (local.set $s1a (v128.load (i32.add (local.get $c) (local.get $cs))))
            (local.set $s1b (v128.load offset=16 (i32.add (local.get $c) (local.get $cs))))
            (local.set $s2a (v128.load (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1)))))
            (local.set $s2b (v128.load offset=16 (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1)))))
            (local.set $s3a (v128.load (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3)))))
            (local.set $s3b (v128.load offset=16 (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3)))))
            (local.set $p0 (i32.shl (i32.add (local.get $w) (local.get $jb)) (i32.const 3)))
            (local.set $p1 (i32.add (local.get $p0) (local.get $ws)))
            (local.set $p2 (i32.add (local.get $p1) (local.get $ws)))
            (local.set $p3 (i32.add (local.get $p2) (local.get $ws)))
            (local.set $pv (i32.shl
              (i32.add (i32.add (local.get $v) (i32.mul (local.get $jb) (local.get $vStride))) (local.get $e))
              (i32.const 3)))
            (local.set $j (local.get $jb))
            (block $doneKeys
              (loop $keys
                (br_if $doneKeys (i32.ge_s (local.get $j) (local.get $jEnd)))
                (local.set $x0 (v128.load (local.get $pv)))
                (local.set $x1 (v128.load offset=16 (local.get $pv)))
                (local.set $y (v128.load64_splat (local.get $p0)))
                (local.set $s0a (f64x2.add (local.get $s0a) (f64x2.mul (local.get $y) (local.get $x0))))
                (local.set $s0b (f64x2.add (local.get $s0b) (f64x2.mul (local.get $y) (local.get $x1))))
                (local.set $y (v128.load64_splat (local.get $p1)))
                (local.set $s1a (f64x2.add (local.get $s1a) (f64x2.mul (local.get $y) (local.get $x0))))
                (local.set $s1b (f64x2.add (local.get $s1b) (f64x2.mul (local.get $y) (local.get $x1))))
                (local.set $y (v128.load64_splat (local.get $p2)))
                (local.set $s2a (f64x2.add (local.get $s2a) (f64x2.mul (local.get $y) (local.get $x0))))
                (local.set $s2b (f64x2.add (local.get $s2b) (f64x2.mul (local.get $y) (local.get $x1))))
                (local.set $y (v128.load64_splat (local.get $p3)))
                (local.set $s3a (f64x2.add (local.get $s3a) (f64x2.mul (local.get $y) (local.get $x0))))
                (local.set $s3b (f64x2.add (local.get $s3b) (f64x2.mul (local.get $y) (local.get $x1))))
                (local.set $pv (i32.add (local.get $pv) (local.get $vs)))
                (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
                (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
                (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
                (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys)))
            (v128.store (local.get $c) (local.get $s0a))
            (v128.store offset=16 (local.get $c) (local.get $s0b))
            (v128.store (i32.add (local.get $c) (local.get $cs)) (local.get $s1a))
            (v128.store offset=16 (i32.add (local.get $c) (local.get $cs)) (local.get $s1b))
            (v128.store (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1))) (local.get $s2a))
            (v128.store offset=16 (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1))) (local.get $s2b))
            (v128.store (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3))) (local.get $s3a))
            (v128.store offset=16 (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3))) (local.get $s3b))
            (local.set $e (i32.add (local.get $e) (i32.const 4)))
            (br $features4)))
        ;; 2 features, when 2 or 3 are left.
        (if (i32.le_s (i32.add (local.get $e) (i32.const 2)) (local.get $Ev))
          (then
            (local.set $c (i32.shl (i32.add (local.get $acc) (local.get $e)) (i32.const 3)))
            (local.set $s0a (v128.load (local.get $c)))
            (local.set $s1a (v128.load (i32.add (local.get $c) (local.get $cs))))
            (local.set $s2a (v128.load (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1)))))
            (local.set $s3a (v128.load (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3)))))
            (local.set $p0 (i32.shl (i32.add (local.get $w) (local.get $jb)) (i32.const 3)))
            (local.set $p1 (i32.add (local.get $p0) (local.get $ws)))
            (local.set $p2 (i32.add (local.get $p1) (local.get $ws)))
            (local.set $p3 (i32.add (local.get $p2) (local.get $ws)))
            (local.set $pv (i32.shl
              (i32.add (i32.add (local.get $v) (i32.mul (local.get $jb) (local.get $vStride))) (local.get $e))
              (i32.const 3)))
            (local.set $j (local.get $jb))
            (block $doneKeys2
              (loop $keys2
                (br_if $doneKeys2 (i32.ge_s (local.get $j) (local.get $jEnd)))
                (local.set $x0 (v128.load (local.get $pv)))
                (local.set $s0a (f64x2.add (local.get $s0a) (f64x2.mul (v128.load64_splat (local.get $p0)) (local.get $x0))))
                (local.set $s1a (f64x2.add (local.get $s1a) (f64x2.mul (v128.load64_splat (local.get $p1)) (local.get $x0))))
                (local.set $s2a (f64x2.add (local.get $s2a) (f64x2.mul (v128.load64_splat (local.get $p2)) (local.get $x0))))
                (local.set $s3a (f64x2.add (local.get $s3a) (f64x2.mul (v128.load64_splat (local.get $p3)) (local.get $x0))))
                (local.set $pv (i32.add (local.get $pv) (local.get $vs)))
                (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
                (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
                (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
                (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys2)))
            (v128.store (local.get $c) (local.get $s0a))
            (v128.store (i32.add (local.get $c) (local.get $cs)) (local.get $s1a))
            (v128.store (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1))) (local.get $s2a))
            (v128.store (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3))) (local.get $s3a))
            (local.set $e (i32.add (local.get $e) (i32.const 2)))))
        ;; The last feature, when Ev is odd, in scalar f64.
        (if (i32.lt_s (local.get $e) (local.get $Ev))
          (then
            (local.set $c (i32.shl (i32.add (local.get $acc) (local.get $e)) (i32.const 3)))
            (local.set $t0 (f64.load (local.get $c)))
            (local.set $t1 (f64.load (i32.add (local.get $c) (local.get $cs))))
            (local.set $t2 (f64.load (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1)))))
            (local.set $t3 (f64.load (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3)))))
            (local.set $p0 (i32.shl (i32.add (local.get $w) (local.get $jb)) (i32.const 3)))
            (local.set $p1 (i32.add (local.get $p0) (local.get $ws)))
            (local.set $p2 (i32.add (local.get $p1) (local.get $ws)))
            (local.set $p3 (i32.add (local.get $p2) (local.get $ws)))
            (local.set $pv (i32.shl
              (i32.add (i32.add (local.get $v) (i32.mul (local.get $jb) (local.get $vStride))) (local.get $e))
              (i32.const 3)))
            (local.set $j (local.get $jb))
            (block $doneKeys1
              (loop $keys1
                (br_if $doneKeys1 (i32.ge_s (local.get $j) (local.get $jEnd)))
                (local.set $xs (f64.load (local.get $pv)))
                (local.set $t0 (f64.add (local.get $t0) (f64.mul (f64.load (local.get $p0)) (local.get $xs))))
                (local.set $t1 (f64.add (local.get $t1) (f64.mul (f64.load (local.get $p1)) (local.get $xs))))
                (local.set $t2 (f64.add (local.get $t2) (f64.mul (f64.load (local.get $p2)) (local.get $xs))))
                (local.set $t3 (f64.add (local.get $t3) (f64.mul (f64.load (local.get $p3)) (local.get $xs))))
                (local.set $pv (i32.add (local.get $pv) (local.get $vs)))
                (local.set $p0 (i32.add (local.get $p0) (i32.const 8)))
                (local.set $p1 (i32.add (local.get $p1) (i32.const 8)))
                (local.set $p2 (i32.add (local.get $p2) (i32.const 8)))
                (local.set $p3 (i32.add (local.get $p3) (i32.const 8)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys1)))
            (f64.store (local.get $c) (local.get $t0))
            (f64.store (i32.add (local.get $c) (local.get $cs)) (local.get $t1))
            (f64.store (i32.add (local.get $c) (i32.shl (local.get $cs) (i32.const 1))) (local.get $t2))
            (f64.store (i32.add (local.get $c) (i32.mul (local.get $cs) (i32.const 3))) (local.get $t3))))
        (local.set $jb (local.get $jEnd))
        (br $blocks))))
)
