#!/usr/bin/env python3
"""Writes weights/manifest.json and weights/imagenet_classes.txt from the installed keras and torchvision.

Nothing in them is typed by hand: every URL, checksum and transform comes from the installed packages'
own sources, so regenerating after an upgrade picks up whatever they changed.

- Keras Applications (vgg16.py, vgg19.py, resnet.py): read with `ast`, without importing keras (which
  needs a backend): the weight URLs, the md5 `file_hash` that `keras.utils.get_file` checks, with and
  without the top, and the `preprocess_input` mode.
- torchvision (models/alexnet.py, vgg.py, googlenet.py, resnet.py): the `Weights` enums, imported.
  A file's checksum is the sha256 prefix in its name (`resnet50-0676ba61.pth`), the one torch.hub
  checks with `check_hash=True`; torchvision records no full sha256, so the manifest has none.
  `resize_transform` is the enum's ImageClassification preset: resize `resize_size`, centre crop
  `crop_size` (V1: resize256-crop224; the ResNet V2 recipes: resize232-crop224). The files load in
  ConvZoo as they are. GoogLeNet's entry records `transform_input`: what torchvision's `googlenet`
  builder passes to `GoogLeNet` for these weights (found by calling the builder with the class
  replaced by a recorder, so nothing is downloaded), since a bare .pth cannot say it.
- The Caffe model zoo (BVLC/caffe models/bvlc_alexnet/readme.md and models/bvlc_googlenet/readme.md):
  Caffe is not installed, so CAFFE below quotes each readme's front matter (caffemodel_url, sha1,
  caffe_commit) and its stated centre-crop top-1 accuracy; the transform is what the zoo's
  alexnet-caffe and googlenet-caffe models record. Caffe's 1000 outputs are the ILSVRC-2012 synsets
  in the same order as torchvision's categories.
- The class list: `torchvision.models._meta._IMAGENET_CATEGORIES`, index order, one name a line.

It also writes Zoo/Pretrained/EmbeddedManifest.swift, the same two files as string literals, so the
`zoo` binary can fetch without the repository at hand (a ZooTests test keeps them identical).

Run from the repository root:  python3 tools/make_weights_manifest.py
No network access: it reads the installed packages only.
"""
import ast
import importlib.util
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES_FILE = "imagenet_classes.txt"
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

# zoo architecture name -> Keras Applications module and the `weights_name` it uses.
KERAS = [("vgg16", "vgg16", None), ("vgg19", "vgg19", None),
         ("resnet50-keras", "resnet", "resnet50"), ("resnet101-keras", "resnet", "resnet101"),
         ("resnet152-keras", "resnet", "resnet152")]
KERAS_CONSTRUCTORS = {"vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101",
                      "resnet152": "ResNet152"}
# zoo architecture name -> torchvision Weights enum.
TORCHVISION = [("alexnet", "AlexNet_Weights"), ("vgg16-bn", "VGG16_BN_Weights"), ("vgg19-bn", "VGG19_BN_Weights"),
               ("googlenet", "GoogLeNet_Weights"), ("resnet18", "ResNet18_Weights"), ("resnet34", "ResNet34_Weights"),
               ("resnet50", "ResNet50_Weights"), ("resnet101", "ResNet101_Weights"),
               ("resnet152", "ResNet152_Weights")]
# zoo architecture name -> (BVLC model, caffemodel_url, sha1, caffe_commit, top-1 %, input side), from
# BVLC/caffe models/<model>/readme.md.
CAFFE = [("alexnet-caffe", "bvlc_alexnet", "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel",
          "9116a64c0fbe4459d18f4bb6b56d647b63920377", "709dc15af4a06bebda027c1eb2b3f3e3375d5077", "57.1", 227),
         ("googlenet-caffe", "bvlc_googlenet", "http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel",
          "405fc5acd08a3bb12de8ee5e23a96bec22f08204", "bc614d1bd91896e3faceaf40b23b72dab47d44f5", "68.7", 224)]
# torch.hub's own pattern for the hash in a file name (torch/hub.py HASH_REGEX).
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")


def package_dir(name):
    spec = importlib.util.find_spec(name)   # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed")
    return spec.submodule_search_locations[0]


def package_version(name):
    from importlib.metadata import version
    return version(name)


def keras_module(name):
    path = os.path.join(package_dir("keras"), "src", "applications", name + ".py")
    with open(path) as f:
        return ast.parse(f.read(), path), path


def constants(tree):
    """Module-level string constants and literal dicts (WEIGHTS_PATH, WEIGHTS_HASHES, ...)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def preprocess_mode(tree, path):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "preprocess_input":
            for call in ast.walk(node):
                if isinstance(call, ast.Call):
                    for k in call.keywords:
                        if k.arg == "mode":
                            return ast.literal_eval(k.value)
    raise SystemExit(f"{path}: no preprocess_input(mode=...) found")


def get_file_calls(tree):
    """(file name expression, origin expression, file_hash expression) of each `file_utils.get_file` call."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_file":
            hash_kw = next(k.value for k in node.keywords if k.arg == "file_hash")
            calls.append((node.args[0], node.args[1], hash_kw))
    return sorted(calls, key=lambda c: c[0].lineno)


def render(expr, names):
    """Evaluates a string constant, a name, an f-string or a subscript of a literal dict."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name):
        return names[expr.id]
    if isinstance(expr, ast.JoinedStr):
        return "".join(render(v.value if isinstance(v, ast.FormattedValue) else v, names) for v in expr.values)
    if isinstance(expr, ast.Subscript):
        return render(expr.value, names)[render(expr.slice, names)]
    raise SystemExit(f"cannot evaluate {ast.dump(expr)}")


def keras_entries():
    entries = []
    for arch, module, weights_name in KERAS:
        tree, path = keras_module(module)
        names = constants(tree)
        if weights_name is not None:
            names["weights_name"] = weights_name
        # resnet.py assigns file_name and file_hash in the include_top branches, then calls get_file once.
        assignments = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "include_top":
                for top, body in ((True, node.body), (False, node.orelse)):
                    for stmt in body:
                        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                            assignments.setdefault(top, {})[stmt.targets[0].id] = stmt.value
        calls = get_file_calls(tree)
        if len(calls) == 2:    # vgg16.py, vgg19.py: one get_file per branch, top first
            variants = [(top, render(c[0], names), render(c[1], names), render(c[2], names))
                        for top, c in zip((True, False), calls)]
        elif len(calls) == 1:  # resnet.py
            variants = []
            for top in (True, False):
                file_name = render(assignments[top]["file_name"], names)
                digest = render(assignments[top]["file_hash"], names)
                variants.append((top, file_name, names["BASE_WEIGHTS_PATH"] + file_name, digest))
        else:
            raise SystemExit(f"{path}: expected one or two get_file calls, found {len(calls)}")
        mode = preprocess_mode(tree, path)
        for top, file_name, url, digest in variants:
            if not url.endswith("/" + file_name) or ("notop" in file_name) == top:
                raise SystemExit(f"{path}: unexpected file {file_name} at {url} (include_top={top})")
            if not re.fullmatch(r"[0-9a-f]{32}", digest):   # get_file's "auto" takes 64 hex digits as sha256
                raise SystemExit(f"{path}: {digest} is not an md5")
            constructor = KERAS_CONSTRUCTORS[weights_name or module]
            entries.append({
                "name": arch if top else arch + "-notop",
                "architecture": arch,
                "source": "keras",
                "reference": f"keras.applications.{constructor}(weights=\"imagenet\", include_top={top})",
                "format": "keras-h5",
                "url": url,
                "file_name": file_name,
                "md5": digest,
                "preprocessing": mode,
                "resize_transform": "keras-direct",
                "input_size": [224, 224, 3],
                "include_top": top,
                "classes": CLASSES_FILE if top else None,
            })
    return entries


class _Constructed(Exception):
    pass


def constructor_arguments(module, class_name, builder, weights):
    """The keyword arguments `builder(weights=weights)` passes to `module.class_name`; the class is
    replaced by a recorder that stops the builder before it builds or downloads anything."""
    original = getattr(module, class_name)

    def record(*args, **kwargs):
        raise _Constructed(kwargs)

    setattr(module, class_name, record)
    try:
        builder(weights=weights)
    except _Constructed as constructed:
        return constructed.args[0]
    finally:
        setattr(module, class_name, original)
    raise SystemExit(f"{builder.__name__} did not construct {class_name}")


def torchvision_entries():
    import inspect
    import torchvision.models as tvm
    from torchvision.transforms._presets import ImageClassification
    defaults = {k: p.default for k, p in inspect.signature(ImageClassification).parameters.items()}
    entries = []
    for arch, enum_name in TORCHVISION:
        enum = getattr(tvm, enum_name)
        for member in enum:
            if not member.name.startswith("IMAGENET1K_V"):
                continue
            w = member.value
            file_name = w.url.rsplit("/", 1)[1]
            prefix = HASH_REGEX.search(file_name)
            if prefix is None or len(prefix.group(1)) < 8:
                raise SystemExit(f"{w.url}: no sha256 prefix in the file name")
            t = w.transforms.keywords
            resize = t.get("resize_size", defaults["resize_size"])
            crop = t.get("crop_size", defaults["crop_size"])
            mean = tuple(t.get("mean", defaults["mean"]))
            std = tuple(t.get("std", defaults["std"]))
            if (mean, std) != (TORCH_MEAN, TORCH_STD):
                raise SystemExit(f"{enum_name}.{member.name}: mean/std {mean}/{std} are not Keras's torch mode")
            version = member.name.removeprefix("IMAGENET1K_").lower()
            metrics = w.meta.get("_metrics", {}).get("ImageNet-1K", {})
            entry = {
                "name": arch if version == "v1" else f"{arch}-{version}",
                "architecture": arch,
                "source": "torchvision",
                "reference": f"torchvision.models.{enum_name}.{member.name}",
                "format": "torchvision-pth",
                "url": w.url,
                "file_name": file_name,
                "sha256_prefix": prefix.group(1),
                "preprocessing": "torch",
                "resize_transform": f"resize{resize}-crop{crop}",
                "input_size": [crop, crop, 3],
                "include_top": True,
                "classes": CLASSES_FILE,
                "torchvision_default": enum.DEFAULT == member,
            }
            # repr keeps the published digits; strings, as JSON numbers need not round-trip exactly.
            for key, name in (("acc@1", "imagenet_top1"), ("acc@5", "imagenet_top5")):
                if key in metrics:
                    entry[name] = repr(metrics[key])
            if arch == "googlenet":
                # the module, not the builder of the same name that torchvision.models exports
                module = importlib.import_module("torchvision.models.googlenet")
                kwargs = constructor_arguments(module, "GoogLeNet", module.googlenet, member)
                entry["transform_input"] = bool(kwargs.get("transform_input", False))
            if len(w.meta.get("categories") or []) != 1000:
                raise SystemExit(f"{enum_name}.{member.name}: expected 1000 categories")
            entries.append(entry)
    return entries


def caffe_entries():
    return [{
        "name": arch,
        "architecture": arch,
        "source": "caffe",
        "reference": f"BVLC/caffe models/{model} (caffe_commit {commit[:7]})",
        "format": "caffemodel",
        "url": url,
        "file_name": url.rsplit("/", 1)[1],
        "sha1": sha1,
        "preprocessing": "caffe",
        "resize_transform": f"resize256-crop{side}",
        "input_size": [side, side, 3],
        "include_top": True,
        "classes": CLASSES_FILE,
        "imagenet_top1": top1,
    } for arch, model, url, sha1, commit, top1, side in CAFFE]


def class_names():
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    names = list(_IMAGENET_CATEGORIES)
    if len(names) != 1000 or any("\n" in n or n != n.strip() or not n for n in names):
        raise SystemExit("unexpected _IMAGENET_CATEGORIES")
    return names


def swift_raw_literal(text):
    """A Swift raw multi-line literal whose value is exactly `text` (the newline before the closing
    delimiter is not part of the value)."""
    if '"#' in text or "\\#" in text:
        raise SystemExit("text needs a longer raw-string delimiter")
    return '#"""\n' + text + '\n"""#'


def main():
    names = class_names()
    manifest = {
        "manifest_version": 1,
        "generated_by": "tools/make_weights_manifest.py",
        "sources": {"keras": package_version("keras"), "torchvision": package_version("torchvision")},
        "class_lists": {CLASSES_FILE: {"count": len(names),
                                       "source": "torchvision.models._meta._IMAGENET_CATEGORIES"}},
        "weights": keras_entries() + torchvision_entries() + caffe_entries(),
    }
    seen = set()
    for e in manifest["weights"]:
        if e["name"] in seen:
            raise SystemExit(f"duplicate entry {e['name']}")
        seen.add(e["name"])
    manifest_text = json.dumps(manifest, indent=2) + "\n"
    classes_text = "\n".join(names) + "\n"
    os.makedirs(os.path.join(ROOT, "weights"), exist_ok=True)
    with open(os.path.join(ROOT, "weights", "manifest.json"), "w") as f:
        f.write(manifest_text)
    with open(os.path.join(ROOT, "weights", CLASSES_FILE), "w") as f:
        f.write(classes_text)
    swift = (
        "// Generated by tools/make_weights_manifest.py from the installed keras and torchvision; do not edit.\n"
        "// The same text as weights/manifest.json and weights/imagenet_classes.txt, so the `zoo` binary\n"
        "// can fetch without the repository at hand (PretrainedManifestTests keeps them identical).\n\n"
        "extension PretrainedManifest {\n"
        "    /// weights/manifest.json as shipped.\n"
        f"    static let embeddedJSON = {swift_raw_literal(manifest_text)}\n\n"
        "    /// weights/imagenet_classes.txt as shipped.\n"
        f"    static let embeddedImageNetClasses = {swift_raw_literal(classes_text)}\n"
        "}\n")
    os.makedirs(os.path.join(ROOT, "Zoo", "Pretrained"), exist_ok=True)
    with open(os.path.join(ROOT, "Zoo", "Pretrained", "EmbeddedManifest.swift"), "w") as f:
        f.write(swift)
    print(f"wrote weights/manifest.json ({len(manifest['weights'])} files), weights/{CLASSES_FILE} "
          f"({len(names)} names), Zoo/Pretrained/EmbeddedManifest.swift")


if __name__ == "__main__":
    main()
