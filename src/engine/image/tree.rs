//! `image tree`: an image's layers, or (`--whatrequires`) the layers that
//! stack on its top one, as libimage's layer tree gives them: each layer's
//! short id, its size, and the images whose top layer it is.

use std::collections::HashMap;

use hutch_storage::Store;
use hutch_storage::digest::Digest;
use hutch_storage::images::ImageRecord;

use crate::engine::{Result, ResultExt};

/// One layer's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerLine {
    /// The layer's id, 12 hex digits.
    pub id: String,
    /// Bytes of its uncompressed tar.
    pub size: u64,
    /// The names of the tagged images whose top layer it is.
    pub top_of: Vec<String>,
}

/// A node of the `--whatrequires` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub line: LayerLine,
    /// In the order the store lists the layers (the order they were made).
    pub children: Vec<Node>,
}

struct Index {
    sizes: HashMap<Digest, u64>,
    children: HashMap<Digest, Vec<Digest>>,
    tops: HashMap<Digest, Vec<String>>,
}

fn index(store: &Store) -> Result<Index> {
    let layers = store
        .layers
        .list()
        .map_err(anyhow::Error::from)
        .context("listing the layers")?;
    let images = store
        .images
        .list()
        .map_err(anyhow::Error::from)
        .context("listing the images")?;
    let mut sizes = HashMap::new();
    let mut children: HashMap<Digest, Vec<Digest>> = HashMap::new();
    for l in &layers {
        sizes.insert(l.chain_id.clone(), l.size);
        if let Some(p) = &l.parent {
            children
                .entry(p.clone())
                .or_default()
                .push(l.chain_id.clone());
        }
    }
    let mut tops: HashMap<Digest, Vec<String>> = HashMap::new();
    for img in &images {
        // Untagged images name no layer (podman shows their layers bare).
        if let Some(top) = img.layers.last()
            && !img.names.is_empty()
        {
            tops.entry(top.clone())
                .or_default()
                .extend(img.names.clone());
        }
    }
    Ok(Index {
        sizes,
        children,
        tops,
    })
}

impl Index {
    fn line(&self, id: &Digest) -> LayerLine {
        LayerLine {
            id: id.hex().chars().take(12).collect(),
            size: self.sizes.get(id).copied().unwrap_or(0),
            top_of: self.tops.get(id).cloned().unwrap_or_default(),
        }
    }

    fn node(&self, id: &Digest, depth: usize) -> Node {
        // A layer chain is as deep as images are tall (127 layers at most
        // in practice); the bound keeps a corrupt parent loop finite.
        let children = if depth > 4096 {
            Vec::new()
        } else {
            self.children
                .get(id)
                .map(|c| c.iter().map(|k| self.node(k, depth + 1)).collect())
                .unwrap_or_default()
        };
        Node {
            line: self.line(id),
            children,
        }
    }
}

/// The image's layers, base first.
pub fn layers(store: &Store, image: &ImageRecord) -> Result<Vec<LayerLine>> {
    let idx = index(store)?;
    Ok(image.layers.iter().map(|l| idx.line(l)).collect())
}

/// The tree of layers on the image's top layer (itself the root); `None`
/// for an image without layers.
pub fn what_requires(store: &Store, image: &ImageRecord) -> Result<Option<Node>> {
    let idx = index(store)?;
    Ok(image.layers.last().map(|top| idx.node(top, 0)))
}
/// `image tree`'s text as podman 4.3.1 prints it: a header, then one
/// branch per layer; with `whatrequires` the layers on the image's top
/// one, depth first, on one level (podman nests no fork either). The CLI
/// prints it, the API answers with it (`{"Tree": text}`).
pub fn text(store: &Store, image: &ImageRecord, whatrequires: bool) -> Result<String> {
    use crate::host::time;
    fn line(l: &LayerLine) -> String {
        let mut t = format!("ID: {} Size: {:>7}", l.id, time::human_size_compact(l.size));
        if !l.top_of.is_empty() {
            t.push_str(&format!(" Top Layer of: [{}]", l.top_of.join(" ")));
        }
        t
    }
    fn depth_first(node: &Node, out: &mut Vec<String>) {
        out.push(line(&node.line));
        for c in &node.children {
            depth_first(c, out);
        }
    }
    let mut lines = Vec::new();
    if whatrequires {
        if let Some(node) = what_requires(store, image)? {
            depth_first(&node, &mut lines);
        }
    } else {
        lines.extend(layers(store, image)?.iter().map(line));
    }
    let mut out = format!(
        "Image ID: {}\nTags:     [{}]\nSize:     {}\nImage Layers\n",
        image.id.short(),
        image.names.join(" "),
        time::human_size_compact(image.size)
    );
    for (i, l) in lines.iter().enumerate() {
        out.push_str(if i + 1 == lines.len() {
            "└── "
        } else {
            "├── "
        });
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}
