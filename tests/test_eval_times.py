"""scripts/eval_times.py: matching labelled lines with recognised segments (no models)."""

from __future__ import annotations

from scripts.eval_times import Line, Segment, align_track, percentile


def test_lines_in_their_own_segments_are_timed_by_both_edges() -> None:
    lines = [Line(10.0, 11.0, "我同意录音录像"), Line(600.0, 601.0, "清楚了")]
    segs = [Segment(10.3, 11.1, "我同意录音录像。"), Segment(601.5, 602.0, "清楚了")]
    tr = align_track(lines, segs)
    assert [r.matched for r in tr.lines] == [True, True]
    assert tr.lines[0].error_s == 0.3
    assert tr.lines[1].error_s == 1.5
    assert tr.spurious == []


def test_answers_merged_into_a_segment_stamped_too_early_are_off_by_the_gap() -> None:
    # Issue 11: answers given between 531 s and 701 s merged into one segment at 531-562 s.
    lines = [
        Line(531.0, 532.0, "同意"),
        Line(629.0, 630.0, "清楚了明白"),
        Line(700.0, 701.0, "是我本人"),
    ]
    tr = align_track(lines, [Segment(531.0, 562.0, "同意，清楚了明白，是我本人")])
    errs = [r.error_s for r in tr.lines]
    assert errs[0] == 0.0
    assert errs[1] is not None and errs[1] >= 67.0  # inside the segment's text, not its span
    assert errs[2] is not None and errs[2] >= 139.0


def test_homophones_match_and_invented_text_is_spurious() -> None:
    lines = [Line(5.0, 9.0, "犹豫期是十五天"), Line(20.0, 21.0, "明白"), Line(40.0, 41.0, "同意")]
    segs = [
        Segment(5.1, 9.2, "由于七是15天"),  # homophones and the number as Arabic
        Segment(40.1, 40.9, "后衣"),  # said then, recognised as other words
        Segment(300.0, 303.0, "但是新那兴多子", 0.2, "low_confidence"),
    ]
    tr = align_track(lines, segs)
    assert tr.lines[0].matched and tr.lines[0].error_s is not None
    assert tr.lines[0].error_s < 0.3
    assert not tr.lines[1].matched  # never recognised
    assert not tr.lines[2].matched
    assert [s.text for s in tr.spurious] == ["但是新那兴多子"]
    assert [s.text for s in tr.garbled] == ["后衣"]


def test_one_character_fillers_are_not_scored() -> None:
    tr = align_track(
        [Line(1.0, 1.4, "嗯"), Line(2.0, 3.0, "我同意")], [Segment(2.0, 3.0, "我同意")]
    )
    assert tr.skipped == 1
    assert [r.error_s for r in tr.lines] == [0.0]


def test_a_line_in_the_middle_of_a_long_segment_is_judged_by_containment() -> None:
    lines = [
        Line(0.0, 3.0, "您好我是李明"),
        Line(3.4, 6.0, "今天给您介绍一款产品"),
        Line(6.3, 9.0, "请您认真听"),
    ]
    tr = align_track(lines, [Segment(0.1, 9.1, "您好我是李明今天给您介绍一款产品请您认真听")])
    assert [r.error_s for r in tr.lines] == [0.1, 0.0, 0.1]


def test_percentile_is_nearest_rank() -> None:
    values = [float(i) for i in range(1, 21)]
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile([3.0], 95) == 3.0
