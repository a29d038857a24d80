"""Writes the test images under tests/data/images/ from registry packages (sources and licences in its README).

Usage: tools/.venv/bin/python tools/face/make_fixtures.py --packages target/modelgen/face/dl
(--packages holds the extracted npm package @vladmandic/face-api 1.7.15 and the scikit-image 0.24.0 wheel;
tools/face/build.sh fetches both.)
"""
import argparse
import glob
import io
import os
import shutil
import zipfile

from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "data", "images")
EXIF_ORIENTATION = 0x0112


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", default=os.path.join(REPO, "target", "modelgen", "face", "dl"))
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    shutil.copy(os.path.join(args.packages, "faceapi", "package", "demo", "sample5.jpg"), os.path.join(OUT, "group.jpg"))
    skimage = zipfile.ZipFile(glob.glob(os.path.join(args.packages, "scikit_image-0.24.0-*.whl"))[0])
    with open(os.path.join(OUT, "landscape.jpg"), "wb") as f:
        f.write(skimage.read("skimage/data/rocket.jpg"))
    astronaut = Image.open(io.BytesIO(skimage.read("skimage/data/astronaut.png"))).convert("RGB")
    astronaut.save(os.path.join(OUT, "portrait.jpg"), quality=90)
    astronaut.resize((256, 256), Image.BILINEAR).save(os.path.join(OUT, "portrait.png"))
    # Stored turned a quarter to the left, with the EXIF tag telling viewers to turn it back (orientation 6).
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    astronaut.resize((256, 256), Image.BILINEAR).transpose(Image.ROTATE_90).save(
        os.path.join(OUT, "portrait_exif_rotated.jpg"), quality=90, exif=exif.tobytes())
    # A tight 48 x 48 crop of the face, as FER2013's faces are cut (colour, lossless: the expression model's golden
    # preprocessing test reads it).
    astronaut.crop((175, 80, 265, 170)).resize((48, 48), Image.BILINEAR).save(os.path.join(OUT, "face_48.png"))


if __name__ == "__main__":
    main()
