"""Print how the abstention score separates answerable from unanswerable questions.

    python eval/calibrate.py [eval/sets/calibration.jsonl]

For each language it prints the ROC AUC of the best-sentence score and, for a
range of thresholds, how many questions of each kind would abstain. The
thresholds in assistant/pipeline.py were chosen from this output; see
docs/abstention.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.compose import candidates
from assistant.evaluation import load_set
from assistant.pipeline import Assistant, abstain_threshold


def main(path: Path) -> None:
    bot = Assistant(llm=False)
    rows = []
    for item in load_set(path):
        hits, vector = bot.retriever.retrieve(item.question, bot.settings.top_k)
        vectors = bot.index.sentence_vectors([h.passage.passage_id for h in hits])
        best = candidates(item.question, vector, hits, vectors,
                          bot.retriever.overlap_for(item.question))[0]
        rows.append((item.lang, item.answerable, best.score, best.passage.language))
    for lang in ("ar", "en"):
        pos = [s for q, a, s, _ in rows if q == lang and a]
        neg = [s for q, a, s, _ in rows if q == lang and not a]
        if not pos or not neg:
            continue
        auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
        current = abstain_threshold(lang, next(e for q, _, _, e in rows if q == lang))
        print(f"\n{lang}: {len(pos)} answerable, {len(neg)} unanswerable, AUC {auc:.3f}; "
              f"threshold in use {current}")
        print("threshold  unanswerable-abstain  answerable-abstain")
        for t in [x / 100 for x in range(78, 95)]:
            print(f"  {t:.2f}      {sum(s < t for s in neg):2d}/{len(neg)}"
                  f"                {sum(s < t for s in pos):2d}/{len(pos)}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "eval/sets/calibration.jsonl"))
