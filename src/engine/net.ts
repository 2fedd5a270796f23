// One kernel instance and its memory: parameter / gradient / Adam-moment regions (one offset table), the per-batch
// workspace, and forward, backward and Adam over a batch. Leaves epochs, shuffling, threads and files to model.ts.
import { type ParamLayout, paramLayout, type ResolvedConfig } from './config.js';
import { hashSeed } from './init.js';
import type { KernelExports } from './kernels.generated.js';
import { instantiateKernels } from './wasm.js';

const F32 = 4;
const PAGE = 65536;
/** Windows per forward chunk at inference: bounds the workspace (≈ 8 MB for the seed network). */
const PREDICT_CHUNK = 64;

export interface AdamSettings {
  /** Step size (0.001 by default in fit). */
  learningRate: number;
  /** Decay of the first moment (0.9). */
  beta1: number;
  /** Decay of the second moment (0.999). */
  beta2: number;
  /** Added to the second moment's root (1e-7, as Keras). */
  epsilon: number;
}

interface LayerBuffers {
  h: number; // (T, B, H)
  c: number; // (T, B, H)
  gates: number; // (T, B, 4H)
  dh: number; // (T, B, H), training
  mask: number; // (T, B, H) dropout mask of this layer's sequence output (not the last layer), training
  xd: number; // (T, B, H) dropped output = next layer's input, training
  dxd: number; // (T, B, H) ∂L/∂(next layer's input), training
  stW: number; // skip state of x·W (assembly/sparse.ts), layers above the first (their input is a ReLU output)
  stU: number; // skip state of hPrev·U, ReLU layers
  stWt: number; // skip state of dz·Wᵀ (zero gate columns), training, layers above the first
  stUt: number; // skip state of dz·Uᵀ, training, ReLU layers
}

interface Workspace {
  capacity: number;
  training: boolean;
  x: number; // (T, B, F)
  layers: LayerBuffers[];
  skipScratch: number; // (T, B, max C) gathered columns for the skip states; (T, B, max(C, 4H)) when training
  skipRows: number; // (max C, 4·maxH) gathered gradient rows, training
  dz: number; // (T, B, 4·maxH), training
  dcNext: number; // (B, maxH), training
  ut: number; // (4·maxH, maxH), training
  wt: number; // (4·maxH, maxC), training
  lastMask: number; // (B, H_last), training with dropout
  lastDropped: number; // (B, H_last), training with dropout
  dLast: number; // (B, H_last), training: ∂L/∂(dense input)
  y: number; // (B, horizon)
  target: number; // (B, horizon)
  dy: number; // (B, horizon), training
  denseWt: number; // (horizon, H_last), training
}

const ACT = { relu: 0, tanh: 1 } as const;

/**
 * @internal One model's kernels and WASM memory: the four parameter-shaped regions and the batch workspace. Not part
 * of the package's API (its type is left out of the declaration files); LstmModel is.
 */
export class Net {
  readonly k: KernelExports;
  readonly cfg: ResolvedConfig;
  readonly layout: ParamLayout;
  /** Byte offsets of the four identically laid-out regions. */
  readonly params: number;
  readonly grads: number;
  readonly m: number;
  readonly v: number;
  /** A fifth region-sized block: another thread's gradients are copied here to be summed into ours. */
  private readonly scratch: number;
  private readonly regionBytes: number;
  private readonly wsBase: number;
  private ws: Workspace | null = null;
  private readonly offsets: Map<string, number>;
  /** Per LSTM layer: parameter pointers and sizes (step-wise inference calls these 60 times a window). */
  private readonly layerArgs: { W: number; U: number; bias: number; C: number; H: number; act: number }[];
  private view: Float32Array;
  /** Adam state, TF.js style: β^t accumulated in float32 by repeated multiplication. */
  private adamT = 0;
  private accBeta1 = 0;
  private accBeta2 = 0;
  private adamBetas: [number, number] = [Number.NaN, Number.NaN];

  constructor(cfg: ResolvedConfig, kernels: KernelExports = instantiateKernels()) {
    this.k = kernels;
    this.cfg = cfg;
    this.layout = paramLayout(cfg);
    this.offsets = new Map(this.layout.tensors.map((t) => [t.name, t.offset * F32]));
    const base = Math.ceil(kernels.heapBase() / 64) * 64;
    this.regionBytes = this.layout.regionSize * F32;
    this.params = base;
    this.grads = base + this.regionBytes;
    this.m = base + 2 * this.regionBytes;
    this.v = base + 3 * this.regionBytes;
    this.scratch = base + 4 * this.regionBytes;
    this.wsBase = base + 5 * this.regionBytes;
    this.ensureBytes(this.wsBase);
    this.view = new Float32Array(this.k.memory.buffer);
    this.k.fill(this.grads, 3 * this.layout.regionSize, 0);
    this.layerArgs = cfg.layers.map((l, i) => ({
      W: this.params + this.ptr(`${lstmName(i)}/kernel`),
      U: this.params + this.ptr(`${lstmName(i)}/recurrent_kernel`),
      bias: this.params + this.ptr(`${lstmName(i)}/bias`),
      C: i === 0 ? cfg.features : cfg.layers[i - 1].units,
      H: l.units,
      act: ACT[l.activation],
    }));
  }

  /** A Float32Array over `n` floats at byte offset `ptr` (re-created when memory grows). */
  private f32(ptr: number, n: number): Float32Array {
    if (this.view.buffer !== this.k.memory.buffer) this.view = new Float32Array(this.k.memory.buffer);
    return this.view.subarray(ptr / F32, ptr / F32 + n);
  }

  /** Size of the WASM memory in bytes (for leak tests). */
  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  /** A view of a region; a view of the parameters may be written through, so it drops the skip states' copies. */
  regionView(which: 'params' | 'grads' | 'm' | 'v'): Float32Array {
    if (which === 'params') this.invalidateSkipStates();
    return this.f32(this[which], this.layout.regionSize);
  }

  /** The parameters, to read only (keeps the skip states). */
  paramsForReading(): Float32Array {
    return this.f32(this.params, this.layout.regionSize);
  }

  /** Marks every skip state stale: their packed weight rows are rebuilt from the parameters at next use. */
  private invalidateSkipStates(): void {
    const ws = this.ws;
    if (!ws) return;
    for (const l of ws.layers) {
      if (l.stW) this.f32(l.stW, 1)[0] = 0;
      if (l.stU) this.f32(l.stU, 1)[0] = 0;
    }
  }

  setSimd(on: boolean): void {
    this.k.setSimd(on ? 1 : 0);
  }

  private ensureBytes(bytes: number): void {
    const have = this.k.memory.buffer.byteLength;
    if (bytes > have) this.k.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** Workspace for batches of up to `batch` windows; grows (never shrinks), so repeated calls keep memory flat. */
  private workspace(batch: number, training: boolean): Workspace {
    const ws = this.ws;
    if (ws && ws.capacity >= batch && (ws.training || !training)) return ws;
    const B = Math.max(batch, ws?.capacity ?? 0);
    const train = training || (ws?.training ?? false);
    const { window: T, features: F, layers, dropout, horizon: N } = this.cfg;
    let at = this.wsBase;
    const alloc = (n: number, when = true): number => {
      if (!when) return 0;
      const p = at;
      at += Math.ceil((n * F32) / 64) * 64;
      return p;
    };
    const drop = train && dropout > 0;
    const L = layers.length;
    const maxH = Math.max(...layers.map((l) => l.units));
    const maxC = Math.max(F, maxH);
    const HL = layers[L - 1].units;
    const skipW = (i: number) => i > 0 && layers[i - 1].activation === 'relu';
    const skipU = (i: number) => layers[i].activation === 'relu';
    const stateBytes = (K: number, N: number) => this.k.skipStateBytes(K, N) / F32;
    const next: Workspace = {
      capacity: B,
      training: train,
      x: alloc(T * B * F),
      skipScratch: alloc(T * B * (train ? Math.max(maxC, 4 * maxH) : maxC)),
      skipRows: alloc(maxC * 4 * maxH, train),
      layers: layers.map((l, i) => ({
        h: alloc(T * B * l.units),
        c: alloc(T * B * l.units),
        gates: alloc(T * B * 4 * l.units),
        dh: alloc(T * B * l.units, train),
        mask: alloc(T * B * l.units, drop && i < L - 1),
        xd: alloc(T * B * l.units, drop && i < L - 1),
        dxd: alloc(T * B * l.units, drop && i < L - 1),
        stW: alloc(stateBytes(layers[i - 1]?.units ?? 0, 4 * l.units), skipW(i)),
        stU: alloc(stateBytes(l.units, 4 * l.units), skipU(i)),
        stWt: alloc(stateBytes(4 * l.units, layers[i - 1]?.units ?? 0), train && skipU(i) && i > 0),
        stUt: alloc(stateBytes(4 * l.units, l.units), train && skipU(i)),
      })),
      dz: alloc(T * B * 4 * maxH, train),
      dcNext: alloc(B * maxH, train),
      ut: alloc(4 * maxH * maxH, train),
      wt: alloc(4 * maxH * maxC, train),
      lastMask: alloc(B * HL, drop),
      lastDropped: alloc(B * HL, drop),
      dLast: alloc(B * HL, train),
      y: alloc(B * N),
      target: alloc(B * N),
      dy: alloc(B * N, train),
      denseWt: alloc(N * HL, train),
    };
    this.ensureBytes(at);
    this.ws = next;
    this.invalidateSkipStates();
    return next;
  }

  /** Byte offset of a tensor inside any of the four regions (the one offset table). */
  private ptr(name: string): number {
    const off = this.offsets.get(name);
    if (off === undefined) throw new Error(`no tensor ${name}`);
    return off;
  }

  /**
   * Copies windows into the workspace, time-major: x (N, T, F) rows `idx[from..from+count)` (or `from..` when
   * idx is null) → (T, B, F); targets y (N, horizon) → (B, horizon) when given.
   */
  private load(
    ws: Workspace,
    x: Float32Array,
    y: Float32Array | null,
    idx: ArrayLike<number> | null,
    from: number,
    count: number,
  ): void {
    const { window: T, features: F, horizon: N } = this.cfg;
    const xs = this.f32(ws.x, T * count * F);
    const ys = y ? this.f32(ws.target, count * N) : null;
    for (let b = 0; b < count; b++) {
      const s = idx ? idx[from + b] : from + b;
      const src = s * T * F;
      for (let t = 0; t < T; t++) {
        const dst = (t * count + b) * F;
        const o = src + t * F;
        for (let f = 0; f < F; f++) xs[dst + f] = x[o + f];
      }
      if (ys && y) for (let j = 0; j < N; j++) ys[b * N + j] = y[s * N + j];
    }
  }

  /** Forward pass over the B windows already loaded; with `epoch` set, training mode (dropout on). */
  private forward(
    ws: Workspace,
    B: number,
    dropoutSeeds: ((b: number, layer: number) => number) | null,
  ): number {
    const { window: T, layers, horizon: N } = this.cfg;
    const rate = dropoutSeeds ? this.cfg.dropout : 0;
    const k = this.k;
    let input = ws.x;
    layers.forEach((_, i) => {
      const H = this.layerArgs[i].H;
      const buf = ws.layers[i];
      this.layerSteps(ws, i, input, B, 0, T, true);
      input = buf.h;
      if (i < layers.length - 1 && rate > 0 && dropoutSeeds) {
        for (let b = 0; b < B; b++) k.dropoutMask(buf.mask, T, B, H, b, dropoutSeeds(b, i), rate);
        k.mulInto(buf.xd, buf.h, buf.mask, T * B * H);
        input = buf.xd;
      }
    });
    const L = layers.length;
    const HL = layers[L - 1].units;
    let last = ws.layers[L - 1].h + (T - 1) * B * HL * F32; // (B, H_last)
    if (rate > 0 && dropoutSeeds) {
      for (let b = 0; b < B; b++) k.dropoutMask(ws.lastMask, 1, B, HL, b, dropoutSeeds(b, L - 1), rate);
      k.mulInto(ws.lastDropped, last, ws.lastMask, B * HL);
      last = ws.lastDropped;
    }
    k.denseForward(
      ws.y,
      last,
      this.params + this.ptr('dense/kernel'),
      this.params + this.ptr('dense/bias'),
      B,
      HL,
      N,
    );
    return last;
  }

  /** Backward pass after a training forward; ADDS into the gradient region. Returns Σ(y − target)². */
  private backward(ws: Workspace, B: number, denseInput: number, scale: number, dropout: boolean): number {
    const { window: T, features: F, layers, horizon: N } = this.cfg;
    const k = this.k;
    const L = layers.length;
    const HL = layers[L - 1].units;
    const sse = k.mseLoss(ws.dy, ws.y, ws.target, B * N, scale);
    const top = ws.layers[L - 1];
    k.fill(top.dh, T * B * HL, 0);
    const dhLast = top.dh + (T - 1) * B * HL * F32;
    const drop = dropout && this.cfg.dropout > 0;
    k.denseBackward(
      drop ? ws.dLast : dhLast,
      this.grads + this.ptr('dense/kernel'),
      this.grads + this.ptr('dense/bias'),
      ws.dy,
      denseInput,
      this.params + this.ptr('dense/kernel'),
      ws.denseWt,
      B,
      HL,
      N,
    );
    if (drop) k.mulInto(dhLast, ws.dLast, ws.lastMask, B * HL);
    for (let i = L - 1; i >= 0; i--) {
      const l = layers[i];
      const H = l.units;
      const buf = ws.layers[i];
      const below = i > 0 ? ws.layers[i - 1] : null;
      const C = i > 0 ? layers[i - 1].units : F;
      const input = below ? (drop ? below.xd : below.h) : ws.x;
      const dx = below ? (drop ? below.dxd : below.dh) : 0;
      const name = lstmName(i);
      k.lstmBackward(
        dx,
        this.grads + this.ptr(`${name}/kernel`),
        this.grads + this.ptr(`${name}/recurrent_kernel`),
        this.grads + this.ptr(`${name}/bias`),
        buf.dh,
        ws.dz,
        ws.dcNext,
        ws.ut,
        ws.wt,
        input,
        buf.h,
        buf.c,
        buf.gates,
        this.params + this.ptr(`${name}/kernel`),
        this.params + this.ptr(`${name}/recurrent_kernel`),
        B,
        T,
        C,
        H,
        ACT[l.activation],
        buf.stW,
        buf.stU,
        buf.stWt,
        buf.stUt,
        ws.skipScratch,
        ws.skipRows,
      );
      if (below && drop) k.mulInto(below.dh, below.dxd, below.mask, T * B * C);
    }
    return sse;
  }

  zeroGrads(): void {
    this.k.fill(this.grads, this.layout.regionSize, 0);
  }

  /**
   * Forward + backward of windows idx[from..from+count) of (x, y), adding ∂L/∂θ into the gradient region, where
   * L = scale·Σ(y − target)² (scale = 1 / (whole batch · horizon) gives Keras' MSE). Dropout masks depend on
   * (seed, epoch, sample index, layer) only. Returns Σ(y − target)² of these windows.
   */
  trainShard(
    x: Float32Array,
    y: Float32Array,
    idx: ArrayLike<number>,
    from: number,
    count: number,
    epoch: number,
    scale: number,
    dropout = true,
  ): number {
    const ws = this.workspace(count, true);
    this.load(ws, x, y, idx, from, count);
    const seed = this.cfg.seed;
    const seeds = dropout
      ? (b: number, layer: number) => hashSeed(seed, epoch, idx[from + b], layer, 0xd0)
      : null;
    const denseInput = this.forward(ws, count, seeds);
    return this.backward(ws, count, denseInput, scale, dropout);
  }

  /** Inference over all n windows of x (n, T, F) → (n, horizon); also Σ(y − target)² when targets are given. */
  predictInto(out: Float32Array, x: Float32Array, n: number, y?: Float32Array): number {
    const N = this.cfg.horizon;
    let sse = 0;
    for (let from = 0; from < n; from += PREDICT_CHUNK) {
      const count = Math.min(PREDICT_CHUNK, n - from);
      const ws = this.workspace(count, false);
      this.load(ws, x, y ?? null, null, from, count);
      this.forward(ws, count, null);
      if (y) sse += this.k.mseLoss(0, ws.y, ws.target, count * N, 0);
      out.set(this.f32(ws.y, count * N), from * N);
    }
    return sse;
  }

  // Step-wise inference, for the two-thread forecast pipeline (forecast-thread.ts): the same kernels as predictInto,
  // driven one layer and a few time steps at a time, so two threads can work on one window.

  /** Prepares the inference workspace for `count` windows and loads windows from..from+count of x (if given). */
  beginInference(x: Float32Array | null, from: number, count: number): void {
    const ws = this.workspace(count, false);
    if (x) this.load(ws, x, null, null, from, count);
  }

  /** Steps t0 ≤ t < t1 of LSTM layer i over the `count` windows begun (see lstmForwardRange for projectAll). */
  inferSteps(i: number, count: number, t0: number, t1: number, projectAll: boolean): void {
    const ws = this.ws!;
    this.layerSteps(ws, i, i === 0 ? ws.x : ws.layers[i - 1].h, count, t0, t1, projectAll);
  }

  /** Steps t0 ≤ t < t1 of LSTM layer i over B windows of `input` (forward passes and step-wise inference alike). */
  private layerSteps(
    ws: Workspace,
    i: number,
    input: number,
    B: number,
    t0: number,
    t1: number,
    projectAll: boolean,
  ): void {
    const a = this.layerArgs[i];
    const buf = ws.layers[i];
    this.k.lstmForwardRange(
      buf.h,
      buf.c,
      buf.gates,
      input,
      a.W,
      a.U,
      a.bias,
      B,
      this.cfg.window,
      a.C,
      a.H,
      a.act,
      t0,
      t1,
      projectAll ? 1 : 0,
      buf.stW,
      buf.stU,
      ws.skipScratch,
    );
  }

  /** Outputs h of layer i for steps t0 ≤ t < t1 of `count` windows: a (t1 − t0, count, H) view, writable. */
  layerOutput(i: number, count: number, t0: number, t1: number): Float32Array {
    const H = this.cfg.layers[i].units;
    return this.f32(this.ws!.layers[i].h + t0 * count * H * F32, (t1 - t0) * count * H);
  }

  /** The dense layer over the last layer's final step → a (count, horizon) view of the forecasts. */
  inferDense(count: number): Float32Array {
    const ws = this.ws!;
    const { window: T, layers, horizon: N } = this.cfg;
    const L = layers.length;
    const HL = layers[L - 1].units;
    this.k.denseForward(
      ws.y,
      ws.layers[L - 1].h + (T - 1) * count * HL * F32,
      this.params + this.ptr('dense/kernel'),
      this.params + this.ptr('dense/bias'),
      count,
      HL,
      N,
    );
    return this.f32(ws.y, count * N);
  }

  /** Adds a gradient block laid out like the gradient region (from another thread) into ours. */
  addGrads(other: Float32Array): void {
    const n = this.layout.regionSize;
    this.f32(this.scratch, n).set(other);
    this.k.addInto(this.grads, this.scratch, n);
  }

  /** True when every gradient is finite (no NaN, no ±Infinity). */
  gradsFinite(): boolean {
    return this.k.allFinite(this.grads, this.layout.regionSize) === 1;
  }

  /** One TF.js-exact Adam step with the current gradients. */
  adamStep(s: AdamSettings): void {
    const f = Math.fround;
    if (this.adamBetas[0] !== s.beta1 || this.adamBetas[1] !== s.beta2) {
      this.adamBetas = [s.beta1, s.beta2];
      this.accBeta1 = f(s.beta1);
      this.accBeta2 = f(s.beta2);
      for (let t = 0; t < this.adamT; t++) {
        this.accBeta1 = f(this.accBeta1 * f(s.beta1));
        this.accBeta2 = f(this.accBeta2 * f(s.beta2));
      }
    }
    this.k.adamStep(
      this.params,
      this.grads,
      this.m,
      this.v,
      this.layout.regionSize,
      s.learningRate,
      s.beta1,
      s.beta2,
      f(1 - s.beta1),
      f(1 - s.beta2),
      f(1 - this.accBeta1),
      f(1 - this.accBeta2),
      s.epsilon,
    );
    this.invalidateSkipStates();
    this.accBeta1 = f(this.accBeta1 * f(s.beta1));
    this.accBeta2 = f(this.accBeta2 * f(s.beta2));
    this.adamT++;
  }

  get optimizerSteps(): number {
    return this.adamT;
  }

  /** Sets the step count of restored moments; the bias-correction powers are recomputed at the next step. */
  setOptimizerSteps(step: number): void {
    this.adamT = step;
    this.adamBetas = [Number.NaN, Number.NaN];
  }
}

const lstmName = (i: number): string => (i === 0 ? 'lstm' : `lstm_${i}`);
