/**
 * Plain TypeScript versions of the native optimizer kernels (native/optimizers.h), element by
 * element in double precision, kept so tests can hold the fused, threaded kernels against the
 * formula. Same arguments and semantics as the `native.*Update` functions; not used in training.
 */
type F32 = Float32Array;

export function sgdUpdate(w: F32, g: F32, vel: F32 | null, lr: number, momentum: number, nesterov: boolean, decay: number): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    if (vel === null) {
      w[i] = wi - lr * g[i]!;
      continue;
    }
    const v = momentum * vel[i]! - lr * g[i]!;
    vel[i] = v;
    w[i] = nesterov ? wi + momentum * v - lr * g[i]! : wi + v;
  }
}

export function adagradUpdate(w: F32, g: F32, acc: F32, lr: number, eps: number, decay: number): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    acc[i] = acc[i]! + g[i]! * g[i]!;
    w[i] = wi - (lr * g[i]!) / Math.sqrt(acc[i]! + eps);
  }
}

export function rmspropUpdate(
  w: F32, g: F32, v: F32, mom: F32 | null, avg: F32 | null, lr: number, rho: number, momentum: number, eps: number, decay: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    const gi = g[i]!;
    v[i] = rho * v[i]! + (1 - rho) * gi * gi;
    let denom = v[i]! + eps;
    if (avg) {
      avg[i] = rho * avg[i]! + (1 - rho) * gi;
      denom = v[i]! - avg[i]! * avg[i]! + eps;
    }
    const inc = (lr * gi) / Math.sqrt(denom);
    if (mom) {
      mom[i] = momentum * mom[i]! + inc;
      w[i] = wi - mom[i]!;
    } else {
      w[i] = wi - inc;
    }
  }
}

export function adamUpdate(
  w: F32, g: F32, m: F32, v: F32, vhat: F32 | null, alpha: number, beta1: number, beta2: number, eps: number, decay: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    const gi = g[i]!;
    m[i] = m[i]! + (gi - m[i]!) * (1 - beta1);
    v[i] = v[i]! + (gi * gi - v[i]!) * (1 - beta2);
    let vi = v[i]!;
    if (vhat) {
      vhat[i] = Math.max(vhat[i]!, vi);
      vi = vhat[i]!;
    }
    w[i] = wi - (m[i]! * alpha) / (Math.sqrt(vi) + eps);
  }
}

export function adamaxUpdate(w: F32, g: F32, m: F32, u: F32, lrHat: number, beta1: number, beta2: number, eps: number, decay: number): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    const gi = g[i]!;
    m[i] = m[i]! + (gi - m[i]!) * (1 - beta1);
    u[i] = Math.max(beta2 * u[i]!, Math.abs(gi));
    w[i] = wi - (lrHat * m[i]!) / (u[i]! + eps);
  }
}

export function nadamUpdate(
  w: F32, g: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number, cm: number, cg: number, cv: number, decay: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]! - w[i]! * decay;
    const gi = g[i]!;
    m[i] = m[i]! + (gi - m[i]!) * (1 - beta1);
    v[i] = v[i]! + (gi * gi - v[i]!) * (1 - beta2);
    w[i] = wi - ((cm * m[i]! + cg * gi) * lr) / (Math.sqrt(v[i]! * cv) + eps);
  }
}

export function clipByValue(g: F32, clipvalue: number): void {
  for (let i = 0; i < g.length; i++) g[i] = Math.min(Math.max(g[i]!, -clipvalue), clipvalue);
}

/** Keras's _clip_by_norm: g * c / max(||g||, c); returns ||g||. */
export function clipByNorm(g: F32, clipnorm: number): number {
  let ss = 0;
  for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  const norm = Math.sqrt(ss);
  for (let i = 0; i < g.length; i++) g[i] = (g[i]! * clipnorm) / Math.max(norm, clipnorm);
  return norm;
}
