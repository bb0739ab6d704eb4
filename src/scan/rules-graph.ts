/**
 * Rule catalogue entries for the graph formats: ONNX, TensorFlow SavedModel /
 * GraphDef and Keras' keras_metadata.pb. docs/rules.md describes the
 * same rules for people.
 */
import type { RuleInfo } from './rules.js';

export const GRAPH_RULES: RuleInfo[] = [
  {
    id: 'onnx/external-data-escape',
    shortDescription: 'ONNX tensor loads external data from outside the model folder',
    fullDescription:
      "A tensor's external_data location is an absolute path, a Windows drive or UNC path, a URL, contains '..' " +
      "or a NUL byte, or resolves through a symbolic link to a file outside the model's folder. onnx.load and " +
      'onnxruntime read that file into the tensor, so a model can carry /etc/passwd or an SSH key into its outputs ' +
      '(CVE-2022-25882, CVE-2024-27318).',
    defaultSeverity: 'HIGH',
    help: 'Do not load the model. External data must be a relative path to a regular file inside the model folder.',
  },
  {
    id: 'onnx/external-data-invalid',
    shortDescription: 'ONNX external data entry is malformed or inconsistent',
    fullDescription:
      'A tensor stored as external data has no location, an offset or length that is not a non-negative integer ' +
      'or is beyond 1 TiB (MEDIUM), or smaller inconsistencies: a length that does not match the tensor shape, a ' +
      'range past the end of the data file, an unknown key (LOW). Loaders allocate and map what these numbers say.',
    defaultSeverity: 'MEDIUM',
    help: 'Re-export the model. Do not load it while the external data entries are unexplained.',
  },
  {
    id: 'onnx/external-data',
    shortDescription: 'ONNX model keeps tensor data in separate files',
    fullDescription: 'Lists the files next to the model that hold its tensor data. They are raw numbers, loaded with the model.',
    defaultSeverity: 'INFO',
    help: 'Ship, download and verify these files together with the model.',
  },
  {
    id: 'onnx/custom-operator',
    shortDescription: 'ONNX node uses an operator from a custom domain',
    fullDescription:
      'A node uses an operator domain that neither ONNX nor onnxruntime defines (and no function in the model ' +
      'implements). Running it needs a native custom-operator library registered by the user, whose code the model ' +
      'does not contain. Custom opset imports that no node uses are reported at INFO.',
    defaultSeverity: 'MEDIUM',
    help: 'Only load the custom-op library from a source you trust, and check why the model needs it.',
  },
  {
    id: 'onnx/contrib-operator',
    shortDescription: 'ONNX node uses an onnxruntime contrib operator',
    fullDescription:
      "Nodes use operators from onnxruntime's own domains (com.microsoft, com.microsoft.nchwc, ...). They ship with " +
      'onnxruntime and are common in optimized models; other runtimes may not run them.',
    defaultSeverity: 'LOW',
    help: 'Informational: expected in models optimized for onnxruntime.',
  },
  {
    id: 'onnx/python-operator',
    shortDescription: "ONNX node calls Python through onnxruntime's PythonOp",
    fullDescription:
      'A com.microsoft PythonOp or PythonOpGrad node names a Python function (func_name) that onnxruntime-training ' +
      'calls when the model runs. Inference models never need it.',
    defaultSeverity: 'HIGH',
    help: 'Do not run this model. Export inference models without torch autograd-function interop.',
  },
  {
    id: 'onnx/local-function',
    shortDescription: 'ONNX model defines local functions',
    fullDescription:
      'The model carries FunctionProto definitions that runtimes inline where nodes call them. Their bodies are ' +
      'checked like the main graph; the finding lists them so they can be reviewed.',
    defaultSeverity: 'LOW',
    help: 'Review the functions if a node calling one looks out of place.',
  },
  {
    id: 'onnx/suspicious-metadata',
    shortDescription: 'ONNX metadata holds a pickle, code or a large blob',
    fullDescription:
      'A metadata_props value is a base64-encoded pickle (scanned like any pickle), contains Python code, is a long ' +
      'base64 blob or is very large. Runtimes ignore metadata, but application code that reads it may decode it.',
    defaultSeverity: 'LOW',
    help: 'Find out which code reads the entry; never unpickle or eval model metadata.',
  },
  {
    id: 'onnx/operators',
    shortDescription: 'Operators used by the ONNX model',
    fullDescription: 'Lists every operator type (with its domain) and how often it occurs, for review.',
    defaultSeverity: 'INFO',
    help: 'Informational.',
  },
  {
    id: 'tensorflow/python-op',
    shortDescription: 'TensorFlow graph calls Python (PyFunc, EagerPyFunc)',
    fullDescription:
      'A node in a graph or library function is PyFunc, PyFuncStateless or EagerPyFunc: it calls a Python function ' +
      'registered by the program that built the graph. The model only runs with that code present.',
    defaultSeverity: 'HIGH',
    help: 'Do not serve this model unless you wrote the code it calls.',
  },
  {
    id: 'tensorflow/file-write-op',
    shortDescription: 'TensorFlow graph writes files',
    fullDescription:
      'A node writes to the file system: WriteFile, checkpoint saves (SaveV2, MergeV2Checkpoints, ...) whose file ' +
      'name is fixed in the graph instead of fed by the loader, dataset snapshots and caches on disk, summary ' +
      'writers, PrintV2 to file://, debug ops dumping to file:// URLs. The evidence shows the file name and where it ' +
      'comes from.',
    defaultSeverity: 'HIGH',
    help: 'Models do not need to write files to compute outputs. Do not load or serve the model until you know why it writes there.',
  },
  {
    id: 'tensorflow/file-read-op',
    shortDescription: 'TensorFlow graph reads or lists files',
    fullDescription:
      'A node reads the file system: ReadFile, MatchingFiles, ImmutableConst on a file path, file-reading datasets ' +
      'and queue readers, checkpoint restores or vocabulary loads whose file name is fixed in the graph. HIGH when ' +
      'the name is an absolute, home, parent-directory or URL path; MEDIUM otherwise.',
    defaultSeverity: 'MEDIUM',
    help: 'Check that the path is one the model legitimately needs (its own assets); reading other files is how graphs exfiltrate data.',
  },
  {
    id: 'tensorflow/network-op',
    shortDescription: 'TensorFlow graph talks to the network',
    fullDescription:
      'A node sends or receives data over the network: RPC ops, tf.data service datasets, debug ops streaming to ' +
      'grpc:// URLs.',
    defaultSeverity: 'HIGH',
    help: 'Do not serve the model unless the endpoint is yours.',
  },
  {
    id: 'tensorflow/nested-graph',
    shortDescription: 'TensorFlow graph runs a serialized graph ptmscope could not inspect',
    fullDescription:
      'A DatasetFromGraph node runs a GraphDef held in a string tensor. When that string is a constant in the ' +
      'graph, ptmscope decodes it and judges its ops like any other (up to 4 levels deep); this rule fires when it ' +
      'cannot: the string is computed at run time, is not a valid GraphDef, or is nested deeper. Hiding ops this way ' +
      'is a known scanner bypass.',
    defaultSeverity: 'MEDIUM',
    help: 'Do not load the model until the nested graph is accounted for.',
  },
  {
    id: 'tensorflow/unknown-op',
    shortDescription: 'TensorFlow graph uses ops outside the ordinary list',
    fullDescription:
      "Ops that are neither on ptmscope's list of ordinary compute ops nor known to reach files, the network or " +
      'Python: custom ops (which need tf.load_op_library of native code) or rare ops worth a look. One finding per ' +
      'file lists them all.',
    defaultSeverity: 'LOW',
    help: 'If the ops are expected (a known custom-op package), this is informational; otherwise find out where their implementation comes from.',
  },
  {
    id: 'tensorflow/asset-path-escape',
    shortDescription: 'SavedModel asset file name points outside assets/',
    fullDescription:
      "An asset_file_def filename is absolute or climbs out with '..'. Loading the SavedModel joins it to the assets " +
      'directory and feeds the result to the graph (vocabularies, lookup tables), so the model reads a file outside itself.',
    defaultSeverity: 'HIGH',
    help: 'Do not load this SavedModel. Asset names are plain file names inside assets/.',
  },
  {
    id: 'tensorflow/keras-lambda',
    shortDescription: 'Keras metadata contains a Lambda layer',
    fullDescription:
      'The Keras metadata (keras_metadata.pb or a SavedUserObject) holds a Lambda layer whose function is marshalled ' +
      'Python bytecode (HIGH): keras.models.load_model unmarshals and runs it. A Lambda naming a Python function ' +
      'instead is MEDIUM.',
    defaultSeverity: 'HIGH',
    help: 'Never keras.models.load_model an untrusted model with Lambda layers. Use tf.saved_model.load for the signatures, or rebuild the model in code and load weights only.',
  },
  {
    id: 'tensorflow/keras-tf-op',
    shortDescription: 'Keras TFOpLambda layer calls a file, Python or process-level TensorFlow function',
    fullDescription:
      'A TFOpLambda/SlicingOpLambda layer in the Keras metadata calls a TensorFlow API function such as ' +
      'tf.io.write_file, tf.io.read_file, tf.py_function or tf.raw_ops.*, with arguments stored in the model config.',
    defaultSeverity: 'HIGH',
    help: 'Do not load the model with Keras until you know why it calls that function.',
  },
  {
    id: 'tensorflow/operators',
    shortDescription: 'Ops used by the TensorFlow model',
    fullDescription: 'Lists every op type in the graphs and library functions and how often it occurs, for review.',
    defaultSeverity: 'INFO',
    help: 'Informational.',
  },
];
