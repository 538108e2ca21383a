//! Run-time choice of the instruction set: the public passes of [`Net`] compiled once per
//! ISA, so their elementwise loops use the widest vectors the CPU has.

use super::super::real::Real;
use super::Net;
use super::workspace::Workspace;

/// Instruction sets the hot passes are compiled for, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Base,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use super::super::kernel::{Isa as Set, active_isa};
        match active_isa() {
            Set::Avx512 => Isa::Avx512,
            Set::Avx2 => Isa::Avx2,
            Set::Baseline => Isa::Base,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    Isa::Base
}

/// Runs `$body` (an expression over the pass's arguments) compiled for the instruction set
/// that [`active_isa`](super::super::kernel::active_isa) names (the widest the CPU has unless
/// capped): the whole pass is inlined into a function with the target features, so its
/// elementwise loops use wide vectors. Rust never contracts `a * b + c` into FMA and the
/// reductions have a fixed order, so every variant computes bit-identical results.
macro_rules! dispatch {
    ($net:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty, $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
        unsafe fn avx512<F: Real>($net: &Net<'_, F>, $($arg: $ty),*) -> $ret {
            $body
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<F: Real>($net: &Net<'_, F>, $($arg: $ty),*) -> $ret {
            $body
        }
        match isa() {
            // SAFETY: the CPU has the features (`active_isa` returns only supported sets).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512($net, $($arg),*) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2($net, $($arg),*) },
            Isa::Base => $body,
        }
    }};
}

impl<F: Real> Net<'_, F> {
    /// Full training forward and backward on one slice. `targets` are the normalised values;
    /// the losses are means over `total_b` samples (the whole mini-batch), so slice gradients
    /// add up to the batch gradient. Adds the gradient to `ws.grad` and returns the slice's
    /// (sum of squared errors, sum of token NLLs).
    pub fn loss_and_grad(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        targets: &[F],
        total_b: usize,
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) -> (f64, f64) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F], total_b: usize,
            masks: Option<&mut rand_chacha::ChaCha8Rng>) -> (f64, f64),
            net.loss_and_grad_impl(ws, seqs, targets, total_b, masks, true))
    }

    /// Eval-mode (no dropout) forward of the training loss on one slice, without gradients:
    /// the slice's (sum of squared errors, sum of token NLLs).
    pub fn eval_loss(&self, ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F]) -> (f64, f64) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], targets: &[F]) -> (f64, f64),
            net.loss_and_grad_impl(ws, seqs, targets, seqs.len().max(1), None, false))
    }

    /// Encoder and predictor forward (see [`Net::encode_impl`]), vectorised for the CPU.
    pub fn encode(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        masks: Option<&mut rand_chacha::ChaCha8Rng>,
    ) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]],
            masks: Option<&mut rand_chacha::ChaCha8Rng>) -> (),
            net.encode_impl(ws, seqs, masks))
    }

    /// The NAO step (see [`Net::generate_impl`]), vectorised for the CPU.
    pub fn generate(
        &self,
        ws: &mut Workspace<F>,
        seqs: &[&[u32]],
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]], lambda: F, allowed: &[bool])
            -> Vec<u32>, net.generate_impl(ws, seqs, lambda, allowed))
    }

    /// The `lambda`-independent part of the NAO step (see
    /// [`Net::encode_with_gradients_impl`]), vectorised for the CPU.
    pub fn encode_with_gradients(&self, ws: &mut Workspace<F>, seqs: &[&[u32]]) {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, seqs: &[&[u32]]) -> (),
            net.encode_with_gradients_impl(ws, seqs))
    }

    /// The rest of the NAO step (see [`Net::generate_moved_impl`]), vectorised for the CPU.
    pub fn generate_moved(
        &self,
        ws: &mut Workspace<F>,
        b: usize,
        lambda: F,
        allowed: &[bool],
    ) -> Vec<u32> {
        let net = self;
        dispatch!(net, (ws: &mut Workspace<F>, b: usize, lambda: F, allowed: &[bool])
            -> Vec<u32>, net.generate_moved_impl(ws, b, lambda, allowed))
    }
}
