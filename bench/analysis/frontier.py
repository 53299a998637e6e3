"""The speed/quality frontier: the variants no other variant beats on both latency and quality at once."""
import pandas as pd


def pareto_front(table: pd.DataFrame, latency: str, quality: str, higher_is_better: bool = True) -> pd.Series:
    """True for each row no other row dominates: another row at most as slow and at least as good, strictly
    better on one of the two. Rows missing either value are never on the front. Quality measured the other way
    round (prompts lost, FID) is turned to higher-is-better by its sign."""
    known = table[[latency, quality]].notna().all(axis=1)
    on_front = pd.Series(False, index=table.index)
    points = table.loc[known, [latency, quality]].astype(float)
    if not higher_is_better:
        points[quality] = -points[quality]
    for index, (time, value) in points.iterrows():
        others = points.drop(index)
        dominated = ((others[latency] <= time) & (others[quality] >= value)
                     & ((others[latency] < time) | (others[quality] > value))).any()
        on_front[index] = not dominated
    return on_front
