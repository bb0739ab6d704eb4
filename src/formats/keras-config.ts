/**
 * The Keras model configuration: the JSON that Keras turns back into layers
 * (`model_config` in a legacy .h5 file, `config.json` in a .keras archive).
 * This module parses it the way Python's json module does and walks the whole
 * tree, listing everything that can make Keras run code or import something
 * on load: Lambda layers and their marshalled bytecode, functions and classes
 * referred to by module and name, TensorFlow ops named by string, and flags
 * that switch safe mode off. It judges nothing; src/scan/keras-scan.ts does.
 *
 * The walk covers every object in the tree rather than following the model
 * structure, so Sequential and Functional layer lists, nested models,
 * wrappers (TimeDistributed, Bidirectional's layer/forward_layer/
 * backward_layer), shared layers, compile/training configs and Keras 3's
 * {module, class_name, config, registered_name} form are all seen, and so is
 * anything hidden under a key Keras reads that this module does not know.
 */

// ---------------------------------------------------------------------------
// Built-in names. Collected from Keras 3's public API (keras/api/**/__init__.py:
// layers, activations, initializers, regularizers, constraints, losses,
// metrics, optimizers, schedules, dtype policies, models) plus the names
// tf.keras 2 and Keras 1/2 wrote into model configs (TFOpLambda, Merge,
// CuDNNLSTM, ...). A class name on this list resolves inside Keras; one that
// is not needs code from outside Keras (a custom object).

const LAYERS = `Activation ELU LeakyReLU PReLU ReLU Softmax ThresholdedReLU
AdditiveAttention Attention GroupQueryAttention GroupedQueryAttention MultiHeadAttention
Conv1D Conv2D Conv3D Convolution1D Convolution2D Convolution3D Conv1DTranspose Conv2DTranspose Conv3DTranspose
Convolution1DTranspose Convolution2DTranspose Convolution3DTranspose Deconvolution2D Deconvolution3D
DepthwiseConv1D DepthwiseConv2D SeparableConv1D SeparableConv2D SeparableConvolution1D SeparableConvolution2D
Dense EinsumDense Embedding Identity Input InputLayer Lambda Masking Wrapper InputSpec Layer ReversibleEmbedding
Add Average Concatenate Dot Maximum Minimum Multiply Subtract Merge
BatchNormalization GroupNormalization LayerNormalization SpectralNormalization UnitNormalization RMSNormalization
SyncBatchNormalization
AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D
GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D
MaxPooling1D MaxPooling2D MaxPooling3D MaxPool1D MaxPool2D MaxPool3D AdaptiveAveragePooling1D AdaptiveAveragePooling2D
AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D
MelSpectrogram STFTSpectrogram CategoryEncoding CenterCrop Discretization HashedCrossing Hashing IntegerLookup
Normalization RandomBrightness RandomContrast RandomCrop RandomFlip RandomRotation RandomTranslation RandomZoom
RandomHeight RandomWidth Rescaling Resizing StringLookup TextVectorization RandomGrayscale RandomHue RandomSaturation
RandomColorJitter RandomColorDegeneration RandomSharpness RandomShear RandomPosterization RandomInvert RandomErasing
RandomGaussianBlur RandomElasticTransform RandomPerspective Solarization Equalization AutoContrast AugMix RandAugment
CutMix MixUp MaxNumBoundingBoxes Pipeline
ActivityRegularization AlphaDropout Dropout GaussianDropout GaussianNoise SpatialDropout1D SpatialDropout2D SpatialDropout3D
Cropping1D Cropping2D Cropping3D Flatten Permute RepeatVector Reshape UpSampling1D UpSampling2D UpSampling3D
ZeroPadding1D ZeroPadding2D ZeroPadding3D
Bidirectional ConvLSTM1D ConvLSTM2D ConvLSTM3D GRU GRUCell LSTM LSTMCell RNN SimpleRNN SimpleRNNCell StackedRNNCells
TimeDistributed AbstractRNNCell CuDNNGRU CuDNNLSTM GRUV1 GRUV2 LSTMV1 LSTMV2 PeepholeLSTMCell
FlaxLayer JaxLayer TorchModuleWrapper TFSMLayer
LocallyConnected1D LocallyConnected2D DenseFeatures Highway MaxoutDense AtrousConvolution1D AtrousConvolution2D
TFOpLambda SlicingOpLambda TensorFlowOpLayer ClassMethod InstanceMethod InstanceProperty`;

const MODELS = 'Sequential Functional Model';

const INITIALIZERS = `Constant Identity IdentityInitializer Ones Zeros Initializer GlorotNormal GlorotUniform HeNormal HeUniform
LecunNormal LecunUniform Orthogonal OrthogonalInitializer RandomNormal RandomUniform TruncatedNormal VarianceScaling STFT
STFTInitializer constant identity ones zeros glorot_normal glorot_uniform he_normal he_uniform lecun_normal lecun_uniform
orthogonal random_normal random_uniform truncated_normal variance_scaling`;

const REGULARIZERS = 'L1 L2 L1L2 OrthogonalRegularizer Regularizer l1 l2 l1_l2 orthogonal_regularizer';

const CONSTRAINTS = 'Constraint MaxNorm MinMaxNorm NonNeg UnitNorm RadialConstraint max_norm min_max_norm non_neg unit_norm';

const ACTIVATIONS = `celu elu exponential gelu glu hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh leaky_relu linear
log_sigmoid log_softmax mish relu relu6 selu sigmoid silu swish softmax softplus softsign sparse_plus sparse_sigmoid
sparsemax squareplus tanh tanh_shrink threshold soft_shrink`;

const LOSSES = `CTC BinaryCrossentropy BinaryFocalCrossentropy CategoricalCrossentropy CategoricalFocalCrossentropy
CategoricalHinge CircleLoss CosineSimilarity Dice Hinge Huber KLDivergence LogCosh Loss MeanAbsoluteError
MeanAbsolutePercentageError MeanSquaredError MeanSquaredLogarithmicError Poisson SparseCategoricalCrossentropy SquaredHinge
Tversky Reduction LossFunctionWrapper binary_crossentropy binary_focal_crossentropy categorical_crossentropy
categorical_focal_crossentropy categorical_hinge circle cosine_similarity ctc dice hinge huber kl_divergence log_cosh
mean_absolute_error mean_absolute_percentage_error mean_squared_error mean_squared_logarithmic_error poisson
sparse_categorical_crossentropy squared_hinge tversky KLD kld kullback_leibler_divergence logcosh MAE mae MAPE mape MSE mse
MSLE msle`;

const METRICS = `Accuracy BinaryAccuracy CategoricalAccuracy SparseCategoricalAccuracy SparseTopKCategoricalAccuracy
TopKCategoricalAccuracy AUC FalseNegatives FalsePositives Precision PrecisionAtRecall Recall RecallAtPrecision
SensitivityAtSpecificity SpecificityAtSensitivity TrueNegatives TruePositives F1Score FBetaScore CategoricalHinge Hinge
SquaredHinge BinaryIoU IoU MeanIoU OneHotIoU OneHotMeanIoU Metric BinaryCrossentropy CategoricalCrossentropy KLDivergence
Poisson SparseCategoricalCrossentropy Mean MeanMetricWrapper Sum CosineSimilarity LogCoshError MeanAbsoluteError
MeanAbsolutePercentageError MeanSquaredError MeanSquaredLogarithmicError R2Score RootMeanSquaredError ConcordanceCorrelation
PearsonCorrelation MeanTensor MetricsList CompileMetrics CompileLoss
binary_accuracy categorical_accuracy sparse_categorical_accuracy sparse_top_k_categorical_accuracy top_k_categorical_accuracy
accuracy acc crossentropy ce`;

const OPTIMIZERS = `Adadelta Adafactor Adagrad Adam Adamax AdamW Ftrl Lamb Lion LossScaleOptimizer Muon Nadam Optimizer RMSprop SGD
ExponentialDecay PiecewiseConstantDecay PolynomialDecay InverseTimeDecay CosineDecay CosineDecayRestarts LearningRateSchedule
adadelta adafactor adagrad adam adamax adamw ftrl lamb lion nadam rmsprop sgd`;

const OTHERS = `DTypePolicy FloatDTypePolicy QuantizedDTypePolicy QuantizedFloat8DTypePolicy DTypePolicyMap Policy
TensorShape TypeSpec TensorSpec RaggedTensorSpec SparseTensorSpec`;

/** Class names Keras itself knows (layers, models, optimizers, losses, metrics, ...). */
export const KERAS_BUILTIN_CLASSES: ReadonlySet<string> = new Set(
  [LAYERS, MODELS, INITIALIZERS, REGULARIZERS, CONSTRAINTS, LOSSES, METRICS, OPTIMIZERS, OTHERS].join(' ').split(/\s+/).filter(Boolean),
);

/** Function names Keras looks up in its own modules (activations, losses, metrics, ...) when a config names one. */
export const KERAS_BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(
  [ACTIVATIONS, INITIALIZERS, REGULARIZERS, CONSTRAINTS, LOSSES, METRICS, OPTIMIZERS].join(' ').split(/\s+/).filter((n) => /^[a-z]/.test(n) || /^[A-Z]{2,4}$/.test(n)),
);

/** Keras's own encodings of values, not classes: `__keras_tensor__`, `__tuple__`, ... */
export const KERAS_SPECIAL_CLASSES: ReadonlySet<string> = new Set([
  '__keras_tensor__',
  '__tensor__',
  '__numpy__',
  '__bytes__',
  '__ellipsis__',
  '__slice__',
  '__typespec__',
  '__tuple__',
  '__list__',
  'TensorShape',
]);

const KERAS_PACKAGES = ['keras', 'tf_keras', 'keras_nlp', 'keras_cv', 'keras_hub', 'keras_rs', 'tensorflow.keras', 'tensorflow.python.keras', 'tensorflow'];

/** Whether `module` is Keras itself, a Keras library or TensorFlow (whose names Keras resolves without importing anything else). */
export function isKerasModule(module: string): boolean {
  return KERAS_PACKAGES.some((p) => module === p || module.startsWith(`${p}.`));
}

// ---------------------------------------------------------------------------
// JSON as Python reads it.

/**
 * Parses JSON the way Python's json.loads does, including the NaN, Infinity
 * and -Infinity literals Keras's json.dumps writes (they become null here).
 * Throws SyntaxError for text Python would reject too.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!/NaN|Infinity/.test(text)) throw e;
    return JSON.parse(replaceNonFinite(text));
  }
}

function replaceNonFinite(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    for (const lit of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(lit, i)) {
        out += `${text.slice(last, i)}null`;
        i += lit.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  return out + text.slice(last);
}

// ---------------------------------------------------------------------------
// The walk.

/** Where in the config: a path like `config.layers[3].config.layer`, and the layers around it. */
export interface ConfigPlace {
  path: string;
  /** Names of the enclosing models and layers, outermost first. */
  layers: string[];
}

export type KerasRef =
  /** A Python function stored as marshalled bytecode. */
  | (ConfigPlace & {
      kind: 'lambda';
      /** 'keras2': Lambda config with function_type "lambda"; 'keras3': {"class_name": "__lambda__", "config": {"code", ...}}; 'keras3-value': {..., "config": {"value": [code, defaults, closure]}}. */
      style: 'keras2' | 'keras3' | 'keras3-value';
      /** The Lambda field it fills: function, output_shape or mask (or the key it sits under). */
      field: string;
      /** What func_load receives: normally base64 text. */
      code: unknown;
      defaults: unknown;
      closure: unknown;
      /** Keras 2's `module`: the module whose globals the code runs with. */
      module?: string;
    })
  /** A function named by module and name. */
  | (ConfigPlace & { kind: 'function'; module: string | null; name: string; registeredName?: string | null; via: 'keras3' | 'keras2-lambda' })
  /** A class named by (module and) class name. */
  | (ConfigPlace & { kind: 'class'; module: string | null; className: string; registeredName?: string | null })
  /** A string value that is a dotted Python name. */
  | (ConfigPlace & { kind: 'dotted'; key: string; value: string })
  /** TFOpLambda / SlicingOpLambda: a TensorFlow function named relative to `tf`. */
  | (ConfigPlace & { kind: 'tf-op'; className: string; fn: string })
  /** A key or value that switches safe mode off. */
  | (ConfigPlace & { kind: 'unsafe-flag'; detail: string })
  /** TorchModuleWrapper's module: base64 of a torch.save pickle that torch.load reads. */
  | (ConfigPlace & { kind: 'embedded-torch'; data: string });

export interface KerasWalk {
  refs: KerasRef[];
  /** JSON objects and arrays visited. */
  nodes: number;
  /** Objects with a class_name and a config (layers, models, optimizers, initializers...). */
  kerasObjects: number;
  /** class_name of the root object. */
  rootClass?: string;
  /** Set when a limit stopped the walk early. */
  truncated?: string;
}

export interface WalkLimits {
  maxNodes: number;
  maxRefs: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = { maxNodes: 10_000_000, maxRefs: 100_000 };

interface Frame {
  value: unknown;
  parent: Frame | undefined;
  key: string | number;
  layers: string[];
  /** Under a key that holds layer names (name, inbound_nodes, ...): strings there are names, not references. */
  names?: boolean;
}

/** Keys whose strings name layers and tensors; Keras never resolves them as Python names. */
const NAME_KEYS = new Set(['name', 'inbound_nodes', 'keras_history', 'input_layers', 'output_layers', 'layer_names', 'weight_names']);

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `a.b` or longer, every part an identifier: a Python module path or attribute chain. */
export function isDottedName(s: string): boolean {
  if (s.length > 512 || !s.includes('.')) return false;
  return s.split('.').every((p) => IDENT.test(p));
}

function pathOf(f: Frame): string {
  const parts: string[] = [];
  for (let x: Frame | undefined = f; x && x.parent; x = x.parent) parts.push(typeof x.key === 'number' ? `[${x.key}]` : `.${x.key}`);
  const s = parts.reverse().join('');
  return s.startsWith('.') ? s.slice(1) : s || '(root)';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether a value looks like what Keras 2's func_dump wrote: [base64 code, defaults, closure] or the code alone. */
function looksLikeFuncDump(v: unknown): boolean {
  const code = Array.isArray(v) ? v[0] : v;
  // marshal of a code object starts with 'c' (0x63) or 0xe3 (with FLAG_REF): base64 "4w" or "Yw".
  return typeof code === 'string' && /^[4Y][A-Za-z0-9+/=\s]{15,}$/.test(code);
}

/** Lambda fields that can hold a function, with the keys Keras 2 stored their kind and module under. */
const LAMBDA_FIELDS: ReadonlyArray<[field: string, typeKey: string, moduleKey: string]> = [
  ['function', 'function_type', 'module'],
  ['output_shape', 'output_shape_type', 'output_shape_module'],
  ['mask', 'mask_type', 'mask_module'],
];

/** Walks a parsed Keras config and lists what can run code or import modules on load. */
export function walkKerasConfig(root: unknown, limits: Partial<WalkLimits> = {}): KerasWalk {
  const lim = { ...DEFAULT_WALK_LIMITS, ...limits };
  const refs: KerasRef[] = [];
  const seenDotted = new Set<string>();
  const tfOpConfigs = new WeakSet<object>();
  const out: KerasWalk = { refs, nodes: 0, kerasObjects: 0 };
  if (isObject(root) && typeof root.class_name === 'string') out.rootClass = root.class_name;
  const stack: Frame[] = [{ value: root, parent: undefined, key: '', layers: [] }];
  const place = (f: Frame): ConfigPlace => ({ path: pathOf(f), layers: f.layers });
  const push = (r: KerasRef): void => {
    if (refs.length < lim.maxRefs) refs.push(r);
    else out.truncated ??= `more than ${lim.maxRefs} references`;
  };
  const child = (f: Frame, key: string | number, layers = f.layers): Frame => ({
    value: (f.value as Record<string, unknown>)[key as string],
    parent: f,
    key,
    layers,
    names: f.names || (typeof key === 'string' && NAME_KEYS.has(key)),
  });

  while (stack.length) {
    const f = stack.pop()!;
    const v = f.value;
    if (typeof v === 'string') {
      const key = typeof f.key === 'string' ? f.key : typeof f.parent?.key === 'string' ? f.parent.key : '';
      if (/enable_unsafe_deserialization|set_global_attribute/.test(v) && !isDottedName(v)) {
        push({ kind: 'unsafe-flag', ...place(f), detail: `the string ${JSON.stringify(v.slice(0, 200))}` });
      } else if (!f.names && isDottedName(v) && !seenDotted.has(v) && !(f.key === 'function' && tfOpConfigs.has(f.parent?.value as object))) {
        seenDotted.add(v);
        push({ kind: 'dotted', ...place(f), key, value: v });
      }
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (++out.nodes > lim.maxNodes) {
      out.truncated = `more than ${lim.maxNodes} JSON objects and arrays`;
      break;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(child(f, i));
      continue;
    }
    const o = v as Record<string, unknown>;
    if (o.safe_mode === false) push({ kind: 'unsafe-flag', ...place(f), detail: '"safe_mode": false' });
    if ('enable_unsafe_deserialization' in o) push({ kind: 'unsafe-flag', ...place(f), detail: 'the key "enable_unsafe_deserialization"' });

    let layers = f.layers;
    const skip = new Set<string>();
    if (typeof o.class_name === 'string') {
      const cn = o.class_name;
      const cfg = o.config;
      const module = typeof o.module === 'string' ? o.module : null;
      const registeredName = typeof o.registered_name === 'string' || o.registered_name === null ? (o.registered_name as string | null) : undefined;
      if (cn === '__lambda__') {
        const field = typeof f.key === 'string' ? f.key : typeof f.parent?.key === 'string' ? f.parent.key : 'function';
        if (isObject(cfg) && 'value' in cfg && !('code' in cfg)) {
          const val = cfg.value;
          const [code, defaults, closure] = Array.isArray(val) ? val : [val, null, null];
          push({ kind: 'lambda', ...place(f), style: 'keras3-value', field, code, defaults, closure });
        } else {
          const c = isObject(cfg) ? cfg : {};
          push({ kind: 'lambda', ...place(f), style: 'keras3', field, code: c.code, defaults: c.defaults, closure: c.closure });
        }
        continue; // the code is judged as a whole; its parts are not config
      }
      if (isObject(cfg) && typeof cfg.name === 'string') layers = [...f.layers, cfg.name];
      // References made by this object are reported against its own layer name.
      const here: Frame = { ...f, layers };
      if (cn === 'function') {
        const name = typeof cfg === 'string' ? cfg : typeof registeredName === 'string' ? registeredName : '';
        push({ kind: 'function', ...place(f), module, name, registeredName, via: 'keras3' });
        skip.add('config');
      } else if (!KERAS_SPECIAL_CLASSES.has(cn)) {
        push({ kind: 'class', ...place(here), module, className: cn, registeredName });
      }
      if (isObject(cfg)) {
        out.kerasObjects++;
        if (cn === 'Lambda') {
          for (const [field, typeKey, moduleKey] of LAMBDA_FIELDS) {
            const fv = cfg[field];
            const kind = cfg[typeKey];
            const mod = typeof cfg[moduleKey] === 'string' ? (cfg[moduleKey] as string) : undefined;
            const at: Frame = { value: fv, parent: { value: cfg, parent: f, key: 'config', layers }, key: field, layers };
            if (kind === 'lambda' || (kind === undefined && looksLikeFuncDump(fv))) {
              const [code, defaults, closure] = Array.isArray(fv) ? fv : [fv, null, null];
              push({ kind: 'lambda', ...place(at), style: 'keras2', field, code, defaults, closure, ...(mod !== undefined ? { module: mod } : {}) });
            } else if (kind === 'function' && typeof fv === 'string') {
              push({ kind: 'function', ...place(at), module: mod ?? null, name: fv, via: 'keras2-lambda' });
            }
          }
        }
        if ((cn === 'TFOpLambda' || cn === 'SlicingOpLambda') && typeof cfg.function === 'string') {
          push({ kind: 'tf-op', ...place(here), className: cn, fn: cfg.function });
          // The name is relative to `tf`; judged as the tf-op above, not as a dotted string.
          tfOpConfigs.add(cfg);
        }
        if (cn === 'TorchModuleWrapper' && typeof cfg.module === 'string') {
          push({ kind: 'embedded-torch', ...place(here), data: cfg.module });
        }
      }
    }
    const keys = Object.keys(o);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      if (skip.has(k)) continue;
      // What sits under a Keras object's config belongs to that layer.
      stack.push(child(f, k, k === 'config' ? layers : f.layers));
    }
  }
  return out;
}
