"""The face pipeline a user would write with OpenCV instead of gatewatch.

OpenCV's own face API from opencv-python-headless (PyPI): cv2.VideoCapture
decodes, cv2.FaceDetectorYN detects on every frame, and every face found is
aligned (FaceRecognizerSF.alignCrop) and embedded (FaceRecognizerSF.feature),
then matched against the gallery exactly as gatewatch matches: the best
person by maximum cosine over their photos, accepted when it reaches the
threshold and beats the second-best person by the margin.

Same model files as gatewatch (models/), same detector input size, score
and NMS thresholds, same gallery photos, same thread count.

Prints one JSON object: frames, seconds (decode + recognise, from opening the
video to its end), faces, and the people identified (in at least
--min-frames frames).

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

    frames = faces_seen = 0
    matched = {}
    started = time.perf_counter()
    video = cv2.VideoCapture(args.video)
    if not video.isOpened():
        sys.exit(f"{args.video}: cannot be opened")
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames += 1
        for face in detect(frame):
            faces_seen += 1
            similarity = gallery @ embed(frame, face)
            best_per_person = np.full(len(names), -1.0, dtype=np.float32)
            np.maximum.at(best_per_person, owner, similarity)
            order = np.argsort(best_per_person)[::-1]
            best = best_per_person[order[0]]
            second = best_per_person[order[1]] if len(order) > 1 else -1.0
            if best >= args.threshold and best - second >= args.margin:
                matched[names[order[0]]] = matched.get(names[order[0]], 0) + 1
    seconds = time.perf_counter() - started
    print(json.dumps({
        "frames": frames,
        "seconds": seconds,
        "fps": frames / seconds if seconds > 0 else 0.0,
        "faces": faces_seen,
        "identities": sorted(p for p, n in matched.items() if n >= args.min_frames),
        "matched_frames": matched,
        "opencv": cv2.__version__,
    }))


if __name__ == "__main__":
    main()
