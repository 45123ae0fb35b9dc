//! The free ranges between areas, in a tree that finds a fitting range in O(log n).
//!
//! Placement asks for the highest free range of at least `len` bytes below some address
//! (Linux's top-down `unmapped_area_topdown`). Walking the areas from that address down
//! visits every area in a densely packed region, which made `mmap` cost grow with the
//! number of mappings. Linux keeps the largest gap of each subtree in its VMA tree for the
//! same reason (`rb_subtree_gap`, now the maple tree's gap search); this is that idea on an
//! AVL tree of the gaps alone, keyed by the gap's end, each node knowing the largest gap in
//! its subtree. The AVL bound keeps the recursion depth under 1.45 log2(n) (about 24 for
//! `MAX_MAP_COUNT` areas), small enough for kernel stacks.

use alloc::boxed::Box;

/// A free range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Gap {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

struct Node {
    gap: Gap,
    height: u8,
    /// The largest gap length in this subtree.
    max_len: usize,
    left: Tree,
    right: Tree,
}

type Tree = Option<Box<Node>>;

fn height(t: &Tree) -> u8 {
    t.as_ref().map_or(0, |n| n.height)
}

fn max_len(t: &Tree) -> usize {
    t.as_ref().map_or(0, |n| n.max_len)
}

impl Node {
    fn update(&mut self) {
        self.height = 1 + height(&self.left).max(height(&self.right));
        self.max_len = self
            .gap
            .len()
            .max(max_len(&self.left))
            .max(max_len(&self.right));
    }

    fn balance(&self) -> i16 {
        i16::from(height(&self.left)) - i16::from(height(&self.right))
    }
}

fn rotate_right(mut n: Box<Node>) -> Box<Node> {
    let Some(mut l) = n.left.take() else {
        return n;
    };
    n.left = l.right.take();
    n.update();
    l.right = Some(n);
    l.update();
    l
}

fn rotate_left(mut n: Box<Node>) -> Box<Node> {
    let Some(mut r) = n.right.take() else {
        return n;
    };
    n.right = r.left.take();
    n.update();
    r.left = Some(n);
    r.update();
    r
}

/// Restores the AVL balance of `n`, whose subtrees are balanced and differ by at most 2.
fn rebalance(mut n: Box<Node>) -> Box<Node> {
    n.update();
    let b = n.balance();
    if b > 1 {
        if n.left.as_ref().is_some_and(|l| l.balance() < 0) {
            n.left = n.left.take().map(rotate_left);
        }
        return rotate_right(n);
    }
    if b < -1 {
        if n.right.as_ref().is_some_and(|r| r.balance() > 0) {
            n.right = n.right.take().map(rotate_right);
        }
        return rotate_left(n);
    }
    n
}

fn insert(t: Tree, gap: Gap) -> Box<Node> {
    let Some(mut n) = t else {
        return Box::new(Node {
            gap,
            height: 1,
            max_len: gap.len(),
            left: None,
            right: None,
        });
    };
    if gap.end < n.gap.end {
        n.left = Some(insert(n.left.take(), gap));
    } else if gap.end > n.gap.end {
        n.right = Some(insert(n.right.take(), gap));
    } else {
        n.gap = gap;
    }
    rebalance(n)
}

/// Removes the leftmost node of `n`; returns the rest and the removed gap.
fn remove_min(mut n: Box<Node>) -> (Tree, Gap) {
    match n.left.take() {
        None => (n.right.take(), n.gap),
        Some(l) => {
            let (rest, gap) = remove_min(l);
            n.left = rest;
            (Some(rebalance(n)), gap)
        }
    }
}

fn remove(t: Tree, end: usize, removed: &mut Option<Gap>) -> Tree {
    let mut n = t?;
    if end < n.gap.end {
        n.left = remove(n.left.take(), end, removed);
    } else if end > n.gap.end {
        n.right = remove(n.right.take(), end, removed);
    } else {
        *removed = Some(n.gap);
        match (n.left.take(), n.right.take()) {
            (None, r) => return r,
            (l, None) => return l,
            (l, Some(r)) => {
                let (rest, successor) = remove_min(r);
                n.gap = successor;
                n.left = l;
                n.right = rest;
            }
        }
    }
    Some(rebalance(n))
}

/// The set of gaps, keyed by end address.
#[derive(Default)]
pub(crate) struct GapTree {
    root: Tree,
    /// Nodes visited by searches, for the host tests' complexity checks.
    #[cfg(test)]
    pub(crate) visits: core::cell::Cell<usize>,
}

impl GapTree {
    fn visit(&self) {
        #[cfg(test)]
        self.visits.set(self.visits.get() + 1);
    }

    /// Adds a gap; it must not overlap another (an equal end replaces it).
    pub(crate) fn insert(&mut self, gap: Gap) {
        if gap.start < gap.end {
            self.root = Some(insert(self.root.take(), gap));
        }
    }

    /// Removes the gap ending at `end`, returning it.
    pub(crate) fn remove(&mut self, end: usize) -> Option<Gap> {
        let mut removed = None;
        self.root = remove(self.root.take(), end, &mut removed);
        removed
    }

    /// The highest gap of at least `len` bytes whose end is at most `max_end`.
    pub(crate) fn highest_fit(&self, len: usize, max_end: usize) -> Option<Gap> {
        self.highest_in(&self.root, len, max_end)
    }

    fn highest_in(&self, t: &Tree, len: usize, max_end: usize) -> Option<Gap> {
        let n = t.as_ref()?;
        self.visit();
        if n.max_len < len {
            return None;
        }
        if n.gap.end > max_end {
            return self.highest_in(&n.left, len, max_end);
        }
        // Everything on the left ends below this node: the right side and this node come
        // first. A right subtree entirely within the bound answers without backtracking
        // once its `max_len` admits `len`, which keeps the search to O(log n) nodes.
        if let Some(g) = self.highest_in(&n.right, len, max_end) {
            return Some(g);
        }
        if n.gap.len() >= len {
            return Some(n.gap);
        }
        self.highest_in(&n.left, len, max_end)
    }

    /// The lowest gap of at least `len` bytes whose end is above `min_end`.
    pub(crate) fn lowest_fit(&self, len: usize, min_end: usize) -> Option<Gap> {
        self.lowest_in(&self.root, len, min_end)
    }

    fn lowest_in(&self, t: &Tree, len: usize, min_end: usize) -> Option<Gap> {
        let n = t.as_ref()?;
        self.visit();
        if n.max_len < len {
            return None;
        }
        if n.gap.end <= min_end {
            return self.lowest_in(&n.right, len, min_end);
        }
        if let Some(g) = self.lowest_in(&n.left, len, min_end) {
            return Some(g);
        }
        if n.gap.len() >= len {
            return Some(n.gap);
        }
        self.lowest_in(&n.right, len, min_end)
    }

    /// Checks the AVL and augmentation invariants; returns the gaps in order.
    #[cfg(test)]
    pub(crate) fn check(&self) -> alloc::vec::Vec<Gap> {
        fn walk(t: &Tree, out: &mut alloc::vec::Vec<Gap>) -> (u8, usize) {
            let Some(n) = t else { return (0, 0) };
            let (hl, ml) = walk(&n.left, out);
            out.push(n.gap);
            let (hr, mr) = walk(&n.right, out);
            assert!(hl.abs_diff(hr) <= 1, "unbalanced at {:?}", n.gap);
            assert_eq!(n.height, 1 + hl.max(hr));
            assert_eq!(n.max_len, n.gap.len().max(ml).max(mr));
            (n.height, n.max_len)
        }
        let mut out = alloc::vec::Vec::new();
        walk(&self.root, &mut out);
        for w in out.windows(2) {
            assert!(w[0].end < w[1].start, "gaps touch or overlap: {w:?}");
        }
        out
    }
}
