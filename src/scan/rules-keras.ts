import type { RuleInfo } from './rules.js';

/** Rules for Keras models (.h5, .keras) and HDF5 files; see docs/rules.md. */
export const KERAS_RULES: RuleInfo[] = [
  {
    id: 'keras/lambda-dangerous-code',
    shortDescription: 'Keras Lambda layer bytecode reaches process, code, import, file or network functions',
    fullDescription:
      'A Lambda layer (Keras 2 function_type "lambda", or Keras 3 "__lambda__") stores a Python function as base64 of ' +
      'marshal.dumps(code). Keras turns it back into a function while loading the model: always for .h5 files in tf.keras ' +
      'and older Keras, and for .keras files when safe_mode is off. This code object names functions on the deny list, ' +
      'such as os.system, subprocess.Popen, builtins.exec or __import__, read from its names and bytecode without running it.',
    defaultSeverity: 'CRITICAL',
    help:
      'Do not load this model. The evidence lists the names and string constants the bytecode uses. Ask for a version ' +
      'without Lambda layers, or rebuild the architecture in code and load only its weights.',
  },
  {
    id: 'keras/lambda-layer',
    shortDescription: 'Keras Lambda layer stores Python bytecode that runs on load',
    fullDescription:
      'A Lambda layer stores a Python function as marshalled bytecode. Whatever it does, it is code from the model file that ' +
      'Keras runs when it rebuilds the model: the legacy .h5 loader runs it regardless of safe_mode (CVE-2025-9905), and ' +
      'the .keras loader runs it when safe_mode is False. Raised to CRITICAL when the same config switches safe mode off.',
    defaultSeverity: 'HIGH',
    help:
      'Load only models whose Lambda code you have reviewed, never with safe_mode=False for files from others. Prefer ' +
      'models that use registered Layer subclasses instead of Lambda.',
  },
  {
    id: 'keras/dangerous-reference',
    shortDescription: 'Keras config names a dangerous function or class',
    fullDescription:
      'The model config refers to a callable that can run commands, evaluate code, import modules, touch files or the ' +
      'network: by module and name (Keras 3 {"module": "os", "class_name": "system"} or {"class_name": "function", ' +
      '"module": "builtins", "config": "exec"}), through a Keras 2 Lambda\'s module/function, as a dotted string ' +
      '("os.system"), or as a TFOpLambda TensorFlow function (tf.io.write_file). Names are judged with the same deny list ' +
      'as pickle globals, plus Keras and TensorFlow gadgets: keras.models.load_model, keras.utils.get_file, ' +
      'keras.src.utils.file_utils, TFSMLayer, TorchModuleWrapper, tf.io file ops, tf.load_op_library (CVE-2025-1550, CVE-2025-8747).',
    defaultSeverity: 'CRITICAL',
    help:
      'Do not load this model. Upgrade Keras (3.9 and later refuse modules outside Keras in safe mode), and get the model ' +
      'from a source you trust.',
  },
  {
    id: 'keras/unsafe-deserialization',
    shortDescription: 'Keras config switches safe mode off',
    fullDescription:
      'The config refers to keras.config.enable_unsafe_deserialization (or sets the safe_mode_saving state directly), so ' +
      'that loading the model turns safe mode off and the Lambda bytecode after it runs even with safe_mode=True ' +
      '(CVE-2025-9906, Keras before 3.11). HIGH when the config only carries "safe_mode": false or an ' +
      'enable_unsafe_deserialization key for a nested load; CRITICAL when it calls the switch.',
    defaultSeverity: 'CRITICAL',
    help: 'No genuine model turns safe mode off. Do not load the file; upgrade Keras to 3.11 or later.',
  },
  {
    id: 'keras/custom-object',
    shortDescription: 'Keras config needs code from outside Keras',
    fullDescription:
      'A layer, function or other object in the config is not part of Keras. MEDIUM when it names a module Keras would ' +
      'import to find it (code from a package you have installed runs with values from the file); LOW when it only ' +
      'resolves through custom_objects or registrations your own code provides.',
    defaultSeverity: 'MEDIUM',
    help:
      'Check that the named module and class are code you trust. If they are, add "module.name" to the allow list in ' +
      '.ptmscope.yaml.',
  },
  {
    id: 'keras/embedded-pickle',
    shortDescription: 'Keras TorchModuleWrapper embeds a pickled PyTorch module',
    fullDescription:
      'A TorchModuleWrapper layer stores its PyTorch module as base64 of torch.save() output, which Keras passes to ' +
      'torch.load (a pickle) when it rebuilds the layer with safe_mode off. The embedded bytes are scanned as a nested file, ' +
      'so their own findings (pickle/dangerous-global, ...) follow.',
    defaultSeverity: 'HIGH',
    help: 'Pickles run code on load. Load such models only from publishers you trust, with safe_mode left on.',
  },
  {
    id: 'keras/invalid-config',
    shortDescription: 'Keras model config is not valid JSON or not a string',
    fullDescription:
      'The model_config or training_config attribute of an .h5 file, or a Keras JSON config, cannot be read as JSON (or the ' +
      'attribute is not a string), so it could not be checked. Keras cannot load it either; a malformed config in a model ' +
      'file is unusual.',
    defaultSeverity: 'MEDIUM',
    help: 'Do not load the model until you know why its config is malformed; download it again from the source.',
  },
  {
    id: 'keras/limit-exceeded',
    shortDescription: 'Keras config too large to check',
    fullDescription:
      'A Keras config was larger than limits.maxConstantBytes, or had more objects than the walk reads, so part of it was ' +
      'not checked.',
    defaultSeverity: 'MEDIUM',
    help: 'Configs are kilobytes to a few megabytes. If this one is genuine, raise limits.maxConstantBytes in .ptmscope.yaml.',
  },
  {
    id: 'hdf5/user-block',
    shortDescription: 'HDF5 file starts with a user block',
    fullDescription:
      'The HDF5 superblock is not at byte 0 but after a user block (512, 1024, 2048... bytes) that HDF5 readers skip. ' +
      'Keras and h5py never write one; other tools may read those bytes as a file of their own.',
    defaultSeverity: 'LOW',
    help: 'Find out why the file carries a user block, and what is in it.',
  },
];
