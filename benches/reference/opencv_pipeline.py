"""The face pipeline a user would write with OpenCV instead of gatewatch.

OpenCV's own face API from opencv-python-headless (PyPI): cv2.VideoCapture
decodes, cv2.FaceDetectorYN detects on every frame, and every face found is
aligned (FaceRecognizerSF.alignCrop) and embedded (FaceRecognizerSF.feature),
then matched against the gallery exactly as gatewatch matches: the best
person by maximum cosine over their photos, accepted when it reaches the
threshold and beats the second-best person by the margin.

Same model files as gatewatch (models/), same detector input size, score
and NMS thresholds, same gallery photos, same thread count.

Two schedules, so that a comparison can tell "less work" from "the same work
done faster":
- `every-face` (the naive pipeline): every face of every frame is embedded;
- `per-track`: faces are followed by a simple IoU tracker and at most
  --max-samples faces of each track are embedded (gatewatch's own schedule);
  the others are only detected and tracked.

Prints one JSON object: frames, seconds (decode + recognise, from opening the
video to its end), cpu_seconds (user + system CPU time of the whole process,
all threads, over the same span), faces detected, faces embedded, and the
people identified (in at least --min-frames frames).

    python benches/reference/opencv_pipeline.py --video V --gallery G [...]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", required=True)
    ap.add_argument("--gallery", required=True, help="folder of <person>/<photo>.jpg")
    ap.add_argument("--models", default="models")
    ap.add_argument("--input-size", type=int, default=640, help="detector input: largest side, px")
    ap.add_argument("--score-threshold", type=float, default=0.6)
    ap.add_argument("--nms", type=float, default=0.3)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--threshold", type=float, default=0.42)
    ap.add_argument("--margin", type=float, default=0.06)
    ap.add_argument("--min-frames", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--schedule", choices=["every-face", "per-track"], default="every-face")
    ap.add_argument("--max-samples", type=int, default=7, help="per-track: embeddings per track, at most")
    ap.add_argument("--track-iou", type=float, default=0.3, help="per-track: IoU that continues a track")
    ap.add_argument("--track-lost", type=int, default=37, help="per-track: frames unseen before a track ends")
    args = ap.parse_args()

    # FFmpeg's decoder threads, read by VideoCapture when it opens a file.
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"threads;{args.threads}"
    import cv2
    import numpy as np

    cv2.setNumThreads(args.threads)
    models = Path(args.models)
    detector = cv2.FaceDetectorYN.create(
        str(models / "face_detection_yunet_2023mar.onnx"), "", (320, 320),
        args.score_threshold, args.nms, args.top_k)
    recogniser = cv2.FaceRecognizerSF.create(str(models / "face_recognition_sface_2021dec.onnx"), "")

    def detect(image):
        h, w = image.shape[:2]
        scale = args.input_size / max(h, w)
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        detector.setInputSize((small.shape[1], small.shape[0]))
        _, faces = detector.detect(small)
        if faces is None:
            return []
        faces = faces.copy()
        faces[:, :14] /= scale
        return faces

    def embed(image, face):
        feature = recogniser.feature(recogniser.alignCrop(image, face)).reshape(-1).astype(np.float32)
        return feature / max(float(np.linalg.norm(feature)), 1e-12)

    # Gallery: the largest face of every photo, embedded like the video's faces.
    people, vectors = [], []
    for folder in sorted(p for p in Path(args.gallery).iterdir() if p.is_dir()):
        for photo in sorted(folder.glob("*.jpg")):
            image = cv2.imread(str(photo))
            faces = detect(image) if image is not None else []
            if len(faces) == 0:
                print(f"{photo}: no face, skipped", file=sys.stderr)
                continue
            largest = max(faces, key=lambda f: f[3])
            people.append(folder.name)
            vectors.append(embed(image, largest))
    names = sorted(set(people))
    owner = np.array([names.index(p) for p in people])
    gallery = np.stack(vectors)

    def iou(a, b):
        x0, y0 = max(a[0], b[0]), max(a[1], b[1])
        x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
        inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        union = a[2] * a[3] + b[2] * b[3] - inter
        return inter / union if union > 0 else 0.0

    # per-track: [box, frames unseen, embeddings taken]
    tracks = []

    def due_for_embedding(face):
        """per-track: whether this face's track may still take an embedding."""
        best, best_iou = None, args.track_iou
        for t in tracks:
            if t[1] == 0:
                continue  # already matched in this frame
            o = iou(t[0], face[:4])
            if o >= best_iou:
                best, best_iou = t, o
        if best is None:
            best = [face[:4], 0, 0]
            tracks.append(best)
        best[0], best[1] = face[:4], 0
        if best[2] >= args.max_samples:
            return False
        best[2] += 1
        return True

    frames = faces_seen = faces_embedded = 0
    matched = {}
    cpu_started = time.process_time()
    started = time.perf_counter()
    video = cv2.VideoCapture(args.video)
    if not video.isOpened():
        sys.exit(f"{args.video}: cannot be opened")
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames += 1
        for t in tracks:
            t[1] += 1
        for face in detect(frame):
            faces_seen += 1
            if args.schedule == "per-track" and not due_for_embedding(face):
                continue
            faces_embedded += 1
            similarity = gallery @ embed(frame, face)
            best_per_person = np.full(len(names), -1.0, dtype=np.float32)
            np.maximum.at(best_per_person, owner, similarity)
            order = np.argsort(best_per_person)[::-1]
            best = best_per_person[order[0]]
            second = best_per_person[order[1]] if len(order) > 1 else -1.0
            if best >= args.threshold and best - second >= args.margin:
                matched[names[order[0]]] = matched.get(names[order[0]], 0) + 1
        tracks[:] = [t for t in tracks if t[1] <= args.track_lost]
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    print(json.dumps({
        "frames": frames,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "fps": frames / seconds if seconds > 0 else 0.0,
        "schedule": args.schedule,
        "faces": faces_seen,
        "faces_embedded": faces_embedded,
        "identities": sorted(p for p, n in matched.items() if n >= args.min_frames),
        "matched_frames": matched,
        "opencv": cv2.__version__,
    }))


if __name__ == "__main__":
    main()
