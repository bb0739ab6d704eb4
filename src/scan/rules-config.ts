import type { RuleInfo } from './rules.js';

/** Rules of the model-repo configuration scanners (src/scan/config-scan.ts); see docs/rules.md. */
export const CONFIG_RULES: RuleInfo[] = [
  {
    id: 'config/remote-code',
    shortDescription: 'Loading with trust_remote_code=True runs Python files from this repo',
    fullDescription:
      'A Hugging Face config (config.json, tokenizer_config.json, processor configs) has an auto_map or ' +
      'custom_pipelines entry such as "modeling_foo.FooModel". With trust_remote_code=True, transformers imports ' +
      'that module file from the repo, plus every file it imports relatively, and runs it. The finding lists the ' +
      'files (found next to the config when it is scanned as a file in its folder).',
    defaultSeverity: 'INFO',
    help:
      'Read the listed files before loading with trust_remote_code=True; ptmscope lists them but does not judge ' +
      'the Python code. Pin the revision you reviewed (revision=<commit>).',
  },
  {
    id: 'config/remote-code-missing',
    shortDescription: 'The config names custom code files that are not in the repo folder',
    fullDescription:
      'An auto_map or custom_pipelines entry (or a relative import of one of the listed files) names a module file ' +
      'that is not next to the config. With trust_remote_code=True, transformers fetches it from the repo the model ' +
      'is loaded from, so code that was never reviewed here would run, or the load fails.',
    defaultSeverity: 'MEDIUM',
    help: 'Scan the complete repo, including every file the config names, or do not load it with trust_remote_code=True.',
  },
  {
    id: 'config/remote-code-other-repo',
    shortDescription: 'The config loads custom code from another Hub repo',
    fullDescription:
      'An auto_map or custom_pipelines entry of the form "org/repo--module.Class" makes transformers download ' +
      'module.py from a different Hub repo and run it when trust_remote_code=True. That code is not in the repo ' +
      'being reviewed, and unless code_revision is pinned it is taken from the other repo\'s main branch, so it can ' +
      'change at any time. Fine-tunes of custom-code models point back at their base model this way.',
    defaultSeverity: 'HIGH',
    help:
      'Check that the named repo is the one you expect, review its code at a fixed commit and load with ' +
      'code_revision=<commit>, or copy the files into this repo.',
  },
  {
    id: 'config/remote-code-bad-reference',
    shortDescription: 'A custom code reference is a path or not a plain module name',
    fullDescription:
      'An auto_map or custom_pipelines entry names its module with an absolute path, "..", a sub-folder, or ' +
      'characters that are not a Python identifier, or its repo part ("x--module.Class") is a local path. ' +
      'transformers builds the file path it imports from this string, so such a reference can aim ' +
      'trust_remote_code=True at a file outside the repo. transformers never writes these.',
    defaultSeverity: 'HIGH',
    help: 'Do not load this model with trust_remote_code=True.',
  },
  {
    id: 'config/trust-remote-code',
    shortDescription: 'The config sets trust_remote_code: true',
    fullDescription:
      'The config carries "trust_remote_code": true. transformers does not read the flag from a config, but ' +
      'wrappers that forward config values may, and the key says the model expects its custom code to run.',
    defaultSeverity: 'INFO',
    help: 'Review the custom code files listed by config/remote-code before loading.',
  },
  {
    id: 'config/truncated',
    shortDescription: 'Only the first 16 MiB of a config were checked',
    fullDescription:
      'The JSON or YAML config is larger than the 16 MiB ptmscope reads. Keys after that point were not checked. ' +
      'Real configs are kilobytes; padding is a way to push a payload past scanners.',
    defaultSeverity: 'LOW',
    help: 'Find out why the config is so large before loading it.',
  },
  {
    id: 'config/yaml-callables',
    shortDescription: 'The YAML config instantiates callables from known model libraries',
    fullDescription:
      'The YAML names callables that its loader imports and calls: HyperPyYAML tags (!new:, !name:, !apply:, ' +
      '!module:), Hydra/NeMo _target_ keys, or NeMo\'s top-level target. All of them are in known model ' +
      'libraries (speechbrain, torch, torchaudio, torchvision, numpy, sentencepiece, nemo, transformers, lightning) ' +
      'or on the allowlist, and none is on a deny list. The evidence lists each call with its arguments. Local ' +
      '!include: files are listed too.',
    defaultSeverity: 'INFO',
    help: 'Nothing to do for models from sources you trust; the list shows what loading the config constructs.',
  },
  {
    id: 'config/yaml-unknown-callable',
    shortDescription: 'The YAML config instantiates a callable from an unknown module',
    fullDescription:
      'A HyperPyYAML tag or Hydra _target_ names a dotted path that is neither on the allowlist nor in a known ' +
      'model library nor on a deny list. Loading the config imports that module (running its top-level code) and ' +
      'calls the callable with the arguments in the file.',
    defaultSeverity: 'MEDIUM',
    help:
      'Check what the callable does with the arguments shown. If it is your own trusted code, add it (or its ' +
      'package with ".*") to the allow list in .ptmscope.yaml.',
  },
  {
    id: 'config/yaml-dangerous-callable',
    shortDescription: 'The YAML config calls something that runs commands, evaluates code or touches the system',
    fullDescription:
      'A HyperPyYAML tag (!new:/!name:/!apply:/!module:, or a !ref <key.attr> read that reaches one), a PyYAML ' +
      'python tag, or a Hydra/NeMo _target_ names a callable on the pickle deny list (os.system, subprocess.*, ' +
      'builtins.eval/exec, torch.load, torch.hub.*…) or a config-specific one (speechbrain run_shell, ' +
      'hydra.utils.*, transformers dynamic module loading), or imports a sensitive module object such as os. ' +
      'Loading the config with HyperPyYAML, yaml.unsafe_load or hydra.utils.instantiate calls it. The severity is ' +
      'that of the deny rule; dunder attribute reads (!ref <x.__class__>) are HIGH.',
    defaultSeverity: 'CRITICAL',
    help: 'Do not load this config. Model configs construct model classes; they have no reason to reach processes, code evaluation, files or the network.',
  },
  {
    id: 'config/yaml-python-tag',
    shortDescription: 'The YAML uses PyYAML python tags, which only unsafe loaders accept',
    fullDescription:
      'The YAML has !!python/object/apply:, /object/new:, /object:, /name: or /module: tags (in any spelling, ' +
      'including %TAG handles). yaml.unsafe_load, yaml.load with yaml.Loader, and HyperPyYAML import and call the ' +
      'named target, exactly like a pickle REDUCE. HIGH for any target that is not on the allowlist; LOW when it is ' +
      '(the file still needs an unsafe loader). Dangerous targets are reported as config/yaml-dangerous-callable.',
    defaultSeverity: 'HIGH',
    help: 'Load YAML with yaml.safe_load or OmegaConf, which reject python tags. If the file must be loaded unsafely, review every python tag first.',
  },
  {
    id: 'config/yaml-include',
    shortDescription: 'The YAML includes a file from outside its folder',
    fullDescription:
      'A HyperPyYAML !include: tag names an absolute path or one that climbs out with "..". The included file\'s ' +
      'own tags run when the config loads, and that file is not part of the model repo, so it was not scanned.',
    defaultSeverity: 'MEDIUM',
    help: 'A model repo should carry every YAML it includes. Find out what the included file holds on the machines that load this config.',
  },
];
