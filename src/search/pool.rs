//! The evaluable pool: when an evaluator can answer only a known set of architectures (a
//! table), the searchers that rank candidates with a predictor rank that set instead of
//! generating candidates blind, most of which the table would not hold.

use std::collections::HashSet;
use std::sync::Arc;

use rayon::prelude::*;

use super::random::KeyHash;
use crate::controller::Controller;
use crate::evaluator::Evaluator;
use crate::space::SearchSpace;

/// Largest space listed in full to find the table's architectures (NAS-Bench-101's 423,624
/// cells are listed; a categorical space of a billion combinations is not).
pub const ENUMERATE_LIMIT: usize = 1_000_000;

/// The architectures `evaluator` can evaluate, one per canonical key, in the space's listing
/// order (or the evaluator's key order where the space cannot list itself). `None` when the
/// evaluator can evaluate anything or none of its keys is an architecture of `space`.
pub fn evaluable_pool<S, E>(space: &S, evaluator: &E) -> Option<Arc<[S::Arch]>>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    let keys = evaluator.known_keys()?;
    let pool: Vec<S::Arch> = match space.enumerate(ENUMERATE_LIMIT) {
        Some(all) => {
            // Keys on all threads (NAS-Bench-101 keys are MD5 hashes); the order is kept.
            let keys: HashSet<&str> = keys.collect();
            all.into_par_iter()
                .filter(|a| keys.contains(space.key(a).as_str()))
                .collect()
        }
        // The keys are read from the evaluator as they come, never copied.
        None => keys
            .filter_map(|k| space.parse(k).ok().filter(|a| space.key(a) == k))
            .collect(),
    };
    (!pool.is_empty()).then(|| pool.into())
}

/// The evaluable pool as the generating searchers (SemiNAS, NAO, SemiNAS-RE) use it: a key
/// lookup that keeps their candidates evaluable, and a ranking of the pool by the controller's
/// predictor for a round short of evaluable candidates. Keys are computed once (NAS-Bench-101
/// keys are MD5 hashes of canonical graphs); only their 128-bit hashes are looked up.
pub(crate) struct PoolIndex<A> {
    archs: Arc<[A]>,
    keys: Vec<String>,
    index: HashSet<KeyHash>,
    /// Candidates dropped so far because the pool lacks them. While this is 0 the pool has
    /// covered everything generated (NAS-Bench-201's table holds every cell), and the
    /// searchers behave exactly as without a pool.
    pub outside: usize,
}

impl<A: Clone> PoolIndex<A> {
    /// Indexes `archs`, architectures of `space`.
    pub fn new<S: SearchSpace<Arch = A>>(space: &S, archs: Arc<[A]>) -> Self {
        let keys: Vec<String> = archs.iter().map(|a| space.key(a)).collect();
        let index = keys.iter().map(|k| KeyHash::of(k)).collect();
        Self {
            archs,
            keys,
            index,
            outside: 0,
        }
    }

    /// Whether the evaluator can evaluate the architecture of `key`; counts a miss in
    /// [`PoolIndex::outside`].
    pub fn admits(&mut self, key: &str) -> bool {
        let hit = self.index.contains(&KeyHash::of(key));
        if !hit {
            self.outside += 1;
        }
        hit
    }

    /// Whether the pool has restricted a search: some candidate was dropped as not evaluable.
    pub fn restricts(&self) -> bool {
        self.outside > 0
    }

    /// The `n` architectures of the pool with the highest predicted value among those whose
    /// keys `skip` refuses and `taken` lacks, best first (ties to the earlier pool entry), with
    /// their predictions; their keys are added to `taken`.
    pub fn best_predicted<S: SearchSpace<Arch = A>>(
        &self,
        space: &S,
        controller: &Controller,
        n: usize,
        skip: impl Fn(&str) -> bool,
        taken: &mut HashSet<String>,
    ) -> Vec<(A, f32)> {
        let free: Vec<usize> = (0..self.keys.len())
            .filter(|&i| !skip(&self.keys[i]) && !taken.contains(&self.keys[i]))
            .collect();
        if n == 0 || free.is_empty() {
            return Vec::new();
        }
        let seqs: Vec<Vec<u32>> = free.iter().map(|&i| space.encode(&self.archs[i])).collect();
        let preds = controller.predict(&seqs);
        let mut order: Vec<(f32, usize)> = preds.into_iter().zip(free).collect();
        let by_pred = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let k = n.min(order.len());
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, by_pred);
            order.truncate(k);
        }
        order.sort_by(by_pred);
        order
            .into_iter()
            .map(|(p, i)| {
                taken.insert(self.keys[i].clone());
                (self.archs[i].clone(), p)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::benchmark::{Table, TabularBenchmark};
    use crate::controller::ControllerConfig;
    use crate::rng::rng_for;
    use crate::space::{CategoricalSpace, Nb201Space};

    #[test]
    fn the_index_admits_the_pool_and_ranks_what_is_left_by_the_predictor() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let pool = evaluable_pool(&space, &bench).unwrap();
        let mut ix = PoolIndex::new(&space, pool.clone());
        assert!(ix.admits(&space.key(&pool[7])));
        assert!(!ix.restricts());
        assert!(!ix.admits("not a cell"));
        assert_eq!(ix.outside, 1);
        assert!(ix.restricts());

        // A small controller fitted to an arbitrary function of the tokens, so that its
        // predictions differ from cell to cell.
        let enc = space.encoding();
        let cfg = ControllerConfig {
            hidden: 16,
            vocab_size: enc.vocab_size,
            length: enc.len(),
            ..ControllerConfig::default()
        };
        let mut rng = rng_for(1, "t");
        let mut c = Controller::new(cfg, enc, &mut rng);
        let seqs: Vec<Vec<u32>> = pool[..200].iter().map(|a| space.encode(a)).collect();
        let targets: Vec<f32> = seqs.iter().map(|s| s[0] as f32 - s[5] as f32).collect();
        c.train(&seqs, &targets, 5, &mut rng);

        let all: Vec<Vec<u32>> = pool.iter().map(|a| space.encode(a)).collect();
        let preds = c.predict(&all);
        let mut order: Vec<usize> = (0..pool.len()).collect();
        order.sort_by(|&a, &b| preds[b].total_cmp(&preds[a]).then(a.cmp(&b)));
        let key = |i: usize| space.key(&pool[i]);
        // The 3 best are proposed already; the next 4 come back, best first, and are taken.
        let proposed: HashSet<String> = order[..3].iter().map(|&i| key(i)).collect();
        let mut taken = HashSet::new();
        let got = ix.best_predicted(&space, &c, 4, |k| proposed.contains(k), &mut taken);
        let got_keys: Vec<String> = got.iter().map(|(a, _)| space.key(a)).collect();
        let want: Vec<String> = order[3..7].iter().map(|&i| key(i)).collect();
        assert_eq!(got_keys, want);
        assert_eq!(got[0].1, preds[order[3]]);
        assert_eq!(taken.len(), 4);
        let next = ix.best_predicted(&space, &c, 2, |k| proposed.contains(k), &mut taken);
        let next_keys: Vec<String> = next.iter().map(|(a, _)| space.key(a)).collect();
        assert_eq!(next_keys, vec![key(order[7]), key(order[8])]);
    }

    #[test]
    fn tables_give_their_architectures() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let pool = evaluable_pool(&space, &bench).unwrap();
        assert_eq!(pool.len(), 15_625);
        let keys: HashSet<String> = pool.iter().map(|a| space.key(a)).collect();
        assert_eq!(keys.len(), 15_625);

        let space = nb101_20k_space();
        let pool = evaluable_pool(&space, &nb101_20k_benchmark()).unwrap();
        assert_eq!(pool.len(), 20_001);

        // A categorical space of 4 combinations whose table holds 2 of them.
        let space = CategoricalSpace::from_toml_str(
            "[[position]]\nname='a'\nchoices=['x','y']\n[[position]]\nname='b'\nchoices=['u','v']\n",
            "s",
        )
        .unwrap();
        let table =
            Table::read_categorical("t.csv", "a,b,acc\ny,u,1\nx,v,2\n".as_bytes(), &space).unwrap();
        let bench = TabularBenchmark::new(Arc::new(table), "acc", "acc", None).unwrap();
        let pool = evaluable_pool(&space, &bench).unwrap();
        let keys: Vec<String> = pool.iter().map(|a| space.key(a)).collect();
        assert_eq!(keys, vec!["a=x,b=v".to_string(), "a=y,b=u".to_string()]);
    }
}
