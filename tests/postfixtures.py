"""Posts in the standard format, written by hand (`\x20\x20` is the two-space line break), that the tests put on disk themselves (no ../shared needed).

STANDARD_POSTS are byte-exact examples of what the built-in templates write: importing one and rendering it
again must give the same bytes. OLD_VARIANTS are the old blog's irregular forms, each with the normalisations
the importer must report (1-based line numbers of the post).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import SEEDS

# Four kinds of paper: translated with a deep read (nested lists, math, part numbers); no model at all
# (English abstract, no details block); a failed deep read; a missing translation. Two papers left out.
DAY_ONE = """---
layout: post
title: "arXiv Daily – 2025-06-04"
tags: [arxiv, cs.SD, eess.AS]
---

以下为 2025-06-04（CST，北京时间）窗口内更新的论文中文译文：
- 时间窗口（锚点 08:50 CST）：2025-06-03 08:50 — 2025-06-04 08:50
- 抓取总数：7 篇 | 本页显示：4 篇（去重/过滤后）
- 另有 2 篇因每日上限（filter.max_papers = 4）未在本页展开：
  - [A Left-Out Paper on Codecs](https://arxiv.org/abs/2506.00005v1)
  - [Another Left-Out Paper](https://arxiv.org/abs/2506.00006v2)

## Streaming Speech Enhancement with State-Space Models
- **Authors**: Ada Lovelace, Alan Turing
- **Categories**: eess.AS, cs.SD
- **arXiv**: [https://arxiv.org/abs/2506.00001v1](https://arxiv.org/abs/2506.00001v1)
- **PDF**: [https://arxiv.org/pdf/2506.00001v1](https://arxiv.org/pdf/2506.00001v1)

本文提出一种基于状态空间模型的流式语音增强方法，在 \\( 16 \\) kHz 条件下延迟低于 10 毫秒。

<details>
<summary>详细解读</summary>

<div markdown="1">

1)\x20\x20
- **研究背景**：流式语音增强需要低延迟。
  - **难点一**：长上下文建模代价高。
  - **难点二**：因果约束限制了性能。

2)\x20\x20
论文提出 **SSM-SE**，损失为 \\( L = \\sum_{i} w_i x_i^2 \\)：

- **因果卷积前端**：逐帧处理。
- **状态空间主干**：线性复杂度。

3)\x20\x20
- **评估任务**：DNS Challenge。
- **主要效果**：PESQ 提升 0.3。
</div>

</details>

---

## A Paper Read Without the Model
- **Authors**: Grace Hopper
- **Categories**: cs.SD
- **arXiv**: [https://arxiv.org/abs/2506.00002v2](https://arxiv.org/abs/2506.00002v2)
- **PDF**: [https://arxiv.org/pdf/2506.00002v2](https://arxiv.org/pdf/2506.00002v2)

We study speech codecs at very low bit rates and report listening tests.

---

## Neural Vocoders Under Noise
- **Authors**: Claude Shannon, Edsger Dijkstra
- **Categories**: eess.AS
- **arXiv**: [https://arxiv.org/abs/2506.00003v1](https://arxiv.org/abs/2506.00003v1)
- **PDF**: [https://arxiv.org/pdf/2506.00003v1](https://arxiv.org/pdf/2506.00003v1)

本文研究噪声条件下神经声码器的鲁棒性。

<details>
<summary>详细解读</summary>

<div markdown="1">

（全文解读失败：PDF 尚未提供（HTTP 404），下次运行将重试）
</div>

</details>

---

## Self-Supervised Audio Tagging
- **Authors**: Barbara Liskov
- **Categories**: cs.SD, cs.LG
- **arXiv**: [https://arxiv.org/abs/2506.00004v1](https://arxiv.org/abs/2506.00004v1)
- **PDF**: [https://arxiv.org/pdf/2506.00004v1](https://arxiv.org/pdf/2506.00004v1)

（译文暂缺：模型服务超时，下次运行将重试）

We learn audio tags without labels.

<details>
<summary>详细解读</summary>

<div markdown="1">

1)\x20\x20
- **研究背景**：标注昂贵。

2)\x20\x20
- **方法**：对比学习。

3)\x20\x20
- **结果**：mAP 0.41。
</div>

</details>

---
"""

# Liquid syntax in a title and a deep read: the whole body sits in a raw block, a literal endraw is guarded.
DAY_TWO = """---
layout: post
title: "arXiv Daily – 2025-06-05"
tags: [arxiv, cs.SD, eess.AS]
---
{% raw %}

以下为 2025-06-05（CST，北京时间）窗口内更新的论文中文译文：
- 时间窗口（锚点 08:50 CST）：2025-06-04 08:50 — 2025-06-05 08:50
- 抓取总数：1 篇 | 本页显示：1 篇（去重/过滤后）

## Scaling {{ site.title }} Laws for Audio
- **Authors**: Ada Lovelace
- **Categories**: cs.SD
- **arXiv**: [https://arxiv.org/abs/2506.00007v1](https://arxiv.org/abs/2506.00007v1)
- **PDF**: [https://arxiv.org/pdf/2506.00007v1](https://arxiv.org/pdf/2506.00007v1)

本文研究音频模型的缩放规律，模板写作 {% if x %}。

<details>
<summary>详细解读</summary>

<div markdown="1">

1)\x20\x20
- **研究背景**：作者写了 {&#37; endraw &#37;} 这样的标签。

2)\x20\x20
- **方法**：缩放。

3)\x20\x20
- **结果**：幂律。
</div>

</details>

---
{% endraw %}
"""

STANDARD_POSTS = {"2025-06-04-arxiv.md": DAY_ONE, "2025-06-05-arxiv.md": DAY_TWO}

# The old blog: `<div markdown="1">` directly followed by text, a heading and a rule inside the deep read.
NO_BLANK_AFTER_DIV = DAY_ONE.replace('<div markdown="1">\n\n1)  \n- **研究背景**：流式', '<div markdown="1">\n1)  \n- **研究背景**：流式')
HEADING_AND_RULE = DAY_ONE.replace("2)  \n论文提出", "## 2) 方法\n论文提出").replace(
    "- **状态空间主干**：线性复杂度。\n", "- **状态空间主干**：线性复杂度。\n\n---\n"
)


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line equal to needle."""
    hits = [n + 1 for n, line in enumerate(text.split("\n")) if line == needle]
    return hits[nth - 1]


def write_standard_posts(folder: Path) -> list[Path]:
    """Write the hand-made standard posts into folder; returns their paths, oldest first."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in sorted(STANDARD_POSTS.items()):
        path = folder / name
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths


def golden_posts(folder: Path) -> list[Path]:
    """The hand-made posts, plus the seeds of ../shared/seeds when that folder is there, copied into folder."""
    paths = write_standard_posts(folder)
    if SEEDS.is_dir():
        for seed in sorted(SEEDS.glob("*.md")):
            shutil.copy(seed, folder / seed.name)
            paths.append(folder / seed.name)
    return sorted(paths)
