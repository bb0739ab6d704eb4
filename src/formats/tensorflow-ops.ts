/**
 * TensorFlow op tables: which ops touch files, the network or Python (with the
 * input or attr that names the file), and the ordinary compute ops a model can
 * use without comment. Ops in neither list are reported as unknown at LOW: a
 * custom op (tf.load_op_library) or an unusual one worth a look.
 * docs/formats.md explains the choices.
 */

export type TfOpRisk = 'python' | 'write' | 'read' | 'network';

export interface TfRiskyOp {
  risk: TfOpRisk;
  /** Inputs (by position) that carry the file name, pattern or address. */
  pathInputs?: number[];
  /** String attrs that carry a file name or URL. */
  pathAttrs?: string[];
  /** What the op does, for the finding. */
  does: string;
  /** Checkpoint ops: normal when their file name is fed at run time (the saver). */
  saver?: boolean;
  /** The op is harmless unless this attr/input says otherwise (checked by the scanner). */
  conditional?: 'debug-urls' | 'print-stream' | 'descriptor-source' | 'memory-region' | 'cache-filename';
}

const R = (risk: TfOpRisk, does: string, more: Partial<TfRiskyOp> = {}): TfRiskyOp => ({ risk, does, ...more });

/** Ops that reach outside the graph: files, processes, Python, the network. */
export const TF_RISKY_OPS: Readonly<Record<string, TfRiskyOp>> = {
  // Python
  PyFunc: R('python', 'calls a Python function registered in the loading process'),
  PyFuncStateless: R('python', 'calls a Python function registered in the loading process'),
  EagerPyFunc: R('python', 'calls a Python function registered in the loading process'),
  // plain file I/O
  ReadFile: R('read', 'reads a whole file into a tensor', { pathInputs: [0] }),
  WriteFile: R('write', 'writes a tensor to a file', { pathInputs: [0] }),
  MatchingFiles: R('read', 'lists files matching a glob', { pathInputs: [0] }),
  FileSystemSetConfiguration: R('write', 'changes file system settings of the process'),
  ImmutableConst: R('read', 'memory-maps a file region into a tensor', { pathAttrs: ['memory_region_name'], conditional: 'memory-region' }),
  // checkpoints (normal inside the saver, where the prefix is fed at run time)
  Save: R('write', 'writes a checkpoint', { pathInputs: [0], saver: true }),
  SaveV2: R('write', 'writes a checkpoint', { pathInputs: [0], saver: true }),
  SaveSlices: R('write', 'writes a checkpoint', { pathInputs: [0], saver: true }),
  MergeV2Checkpoints: R('write', 'writes and deletes checkpoint files', { pathInputs: [0, 1], saver: true }),
  Restore: R('read', 'reads a checkpoint', { pathInputs: [0], saver: true }),
  RestoreV2: R('read', 'reads a checkpoint', { pathInputs: [0], saver: true }),
  RestoreSlice: R('read', 'reads a checkpoint', { pathInputs: [0], saver: true }),
  LoadAndRemapMatrix: R('read', 'reads a checkpoint', { pathInputs: [0] }),
  GenerateVocabRemapping: R('read', 'reads vocabulary files', { pathInputs: [0, 1] }),
  // lookup tables from text files (normal with SavedModel assets)
  InitializeTableFromTextFile: R('read', 'reads a vocabulary file', { pathInputs: [1], saver: true }),
  InitializeTableFromTextFileV2: R('read', 'reads a vocabulary file', { pathInputs: [1], saver: true }),
  // TF1 queue readers
  WholeFileReader: R('read', 'reads whole files named by a queue'),
  WholeFileReaderV2: R('read', 'reads whole files named by a queue'),
  TextLineReader: R('read', 'reads text files named by a queue'),
  TextLineReaderV2: R('read', 'reads text files named by a queue'),
  TFRecordReader: R('read', 'reads TFRecord files named by a queue'),
  TFRecordReaderV2: R('read', 'reads TFRecord files named by a queue'),
  FixedLengthRecordReader: R('read', 'reads record files named by a queue'),
  FixedLengthRecordReaderV2: R('read', 'reads record files named by a queue'),
  LMDBReader: R('read', 'reads LMDB databases named by a queue'),
  // tf.data sources and sinks
  TFRecordDataset: R('read', 'reads TFRecord files', { pathInputs: [0] }),
  TFRecordDatasetV2: R('read', 'reads TFRecord files', { pathInputs: [0] }),
  FixedLengthRecordDataset: R('read', 'reads record files', { pathInputs: [0] }),
  FixedLengthRecordDatasetV2: R('read', 'reads record files', { pathInputs: [0] }),
  TextLineDataset: R('read', 'reads text files', { pathInputs: [0] }),
  CSVDataset: R('read', 'reads CSV files', { pathInputs: [0] }),
  CSVDatasetV2: R('read', 'reads CSV files', { pathInputs: [0] }),
  ExperimentalCSVDataset: R('read', 'reads CSV files', { pathInputs: [0] }),
  SqlDataset: R('read', 'queries an SQLite database file', { pathInputs: [1] }),
  ExperimentalSqlDataset: R('read', 'queries an SQLite database file', { pathInputs: [1] }),
  LMDBDataset: R('read', 'reads LMDB databases', { pathInputs: [0] }),
  ExperimentalLMDBDataset: R('read', 'reads LMDB databases', { pathInputs: [0] }),
  MatchingFilesDataset: R('read', 'lists files matching globs', { pathInputs: [0] }),
  ExperimentalMatchingFilesDataset: R('read', 'lists files matching globs', { pathInputs: [0] }),
  LoadDataset: R('read', 'loads a saved dataset from a directory', { pathInputs: [0] }),
  SnapshotDatasetReader: R('read', 'reads dataset snapshot files', { pathInputs: [0] }),
  SnapshotNestedDatasetReader: R('read', 'reads dataset snapshot files'),
  SnapshotChunkDataset: R('read', 'reads dataset snapshot files', { pathInputs: [0] }),
  ListSnapshotChunksDataset: R('read', 'lists dataset snapshot files', { pathInputs: [0] }),
  SnapshotDataset: R('write', 'writes and reads dataset snapshots in a directory', { pathInputs: [1] }),
  SnapshotDatasetV2: R('write', 'writes and reads dataset snapshots in a directory', { pathInputs: [1] }),
  SaveDataset: R('write', 'writes a dataset to a directory', { pathInputs: [1] }),
  SaveDatasetV2: R('write', 'writes a dataset to a directory', { pathInputs: [1] }),
  DatasetToTFRecord: R('write', 'writes a dataset to a TFRecord file', { pathInputs: [1] }),
  ExperimentalDatasetToTFRecord: R('write', 'writes a dataset to a TFRecord file', { pathInputs: [1] }),
  CacheDataset: R('write', 'caches a dataset in files when given a file name', { pathInputs: [1], conditional: 'cache-filename' }),
  CacheDatasetV2: R('write', 'caches a dataset in files when given a file name', { pathInputs: [1], conditional: 'cache-filename' }),
  DistributedSave: R('write', 'writes a dataset to a directory through the tf.data service', { pathInputs: [1, 2] }),
  // summaries written to disk or a database
  CreateSummaryFileWriter: R('write', 'opens an event file for writing', { pathInputs: [1] }),
  CreateSummaryDbWriter: R('write', 'opens a summary database for writing', { pathInputs: [1] }),
  WriteSummary: R('write', 'writes to a summary writer'),
  WriteScalarSummary: R('write', 'writes to a summary writer'),
  WriteHistogramSummary: R('write', 'writes to a summary writer'),
  WriteImageSummary: R('write', 'writes to a summary writer'),
  WriteAudioSummary: R('write', 'writes to a summary writer'),
  WriteGraphSummary: R('write', 'writes to a summary writer'),
  WriteRawProtoSummary: R('write', 'writes to a summary writer'),
  ImportEvent: R('write', 'writes to a summary writer'),
  // ops that are harmless unless an attr sends output to a file or socket
  PrintV2: R('write', 'prints to the stream named by output_stream', { pathAttrs: ['output_stream'], conditional: 'print-stream' }),
  DebugIdentity: R('write', 'copies tensors to debug URLs', { pathAttrs: ['debug_urls'], conditional: 'debug-urls' }),
  DebugIdentityV2: R('write', 'dumps tensors to a debug directory', { pathAttrs: ['debug_urls', 'dump_root'], conditional: 'debug-urls' }),
  DebugIdentityV3: R('write', 'copies tensors to debug URLs', { pathAttrs: ['debug_urls', 'dump_root'], conditional: 'debug-urls' }),
  DebugNanCount: R('write', 'copies tensor statistics to debug URLs', { pathAttrs: ['debug_urls'], conditional: 'debug-urls' }),
  DebugNumericSummary: R('write', 'copies tensor statistics to debug URLs', { pathAttrs: ['debug_urls'], conditional: 'debug-urls' }),
  DebugNumericSummaryV2: R('write', 'copies tensor statistics to debug URLs', { pathAttrs: ['debug_urls'], conditional: 'debug-urls' }),
  Copy: R('write', 'copies tensors, and to debug URLs when debug_ops_spec names them', { pathAttrs: ['debug_ops_spec'], conditional: 'debug-urls' }),
  CopyHost: R('write', 'copies tensors, and to debug URLs when debug_ops_spec names them', { pathAttrs: ['debug_ops_spec'], conditional: 'debug-urls' }),
  DecodeProtoV2: R('read', 'reads a protobuf descriptor file named by descriptor_source', { pathAttrs: ['descriptor_source'], conditional: 'descriptor-source' }),
  EncodeProto: R('read', 'reads a protobuf descriptor file named by descriptor_source', { pathAttrs: ['descriptor_source'], conditional: 'descriptor-source' }),
  // network
  Rpc: R('network', 'calls an RPC server', { pathInputs: [0] }),
  TryRpc: R('network', 'calls an RPC server', { pathInputs: [0] }),
  RpcClient: R('network', 'connects to an RPC server', { pathInputs: [0] }),
  RpcServer: R('network', 'starts an RPC server', { pathInputs: [0] }),
  RpcServerStart: R('network', 'starts an RPC server'),
  RpcServerRegister: R('network', 'registers a function with an RPC server'),
  RpcCall: R('network', 'calls an RPC server'),
  DataServiceDataset: R('network', 'reads data from a tf.data service address', { pathInputs: [2] }),
  DataServiceDatasetV2: R('network', 'reads data from a tf.data service address', { pathInputs: [2] }),
  DataServiceDatasetV3: R('network', 'reads data from a tf.data service address', { pathInputs: [2] }),
  DataServiceDatasetV4: R('network', 'reads data from a tf.data service address', { pathInputs: [2] }),
  RegisterDataset: R('network', 'sends a dataset to a tf.data service address', { pathInputs: [1] }),
  RegisterDatasetV2: R('network', 'sends a dataset to a tf.data service address', { pathInputs: [1] }),
};

/**
 * Ordinary ops of inference and training graphs: math, neural-network layers,
 * array manipulation, control flow, variables and resources, lookup tables,
 * strings, images, random numbers, in-memory tf.data pipelines and function
 * calls. None of them reaches outside the process.
 */
export const TF_ORDINARY_OPS: ReadonlySet<string> = new Set(
  `
  Const Placeholder PlaceholderV2 PlaceholderWithDefault Identity IdentityN Snapshot StopGradient PreventGradient
  NoOp ControlTrigger Assert Print Timestamp CheckNumerics CheckNumericsV2 GuaranteeConst EnsureShape
  _Arg _Retval _DeviceArg _DeviceRetval _Recv _Send _HostRecv _HostSend _ReadVariablesOp _VarHandlesOp
  Reshape Shape ShapeN Size Rank ExpandDims Squeeze Transpose ConjugateTranspose Concat ConcatV2 ConcatOffset
  Split SplitV Slice StridedSlice StridedSliceGrad StridedSliceAssign ResourceStridedSliceAssign TensorStridedSliceUpdate
  Pack Unpack Tile TileGrad Pad PadV2 MirrorPad MirrorPadGrad Fill ZerosLike OnesLike Empty
  Gather GatherV2 GatherNd ScatterNd ScatterNdNonAliasingAdd TensorScatterUpdate TensorScatterAdd TensorScatterSub
  TensorScatterMax TensorScatterMin Where Reverse ReverseV2 ReverseSequence BroadcastTo BroadcastArgs
  BroadcastGradientArgs Cast Bitcast OneHot Unique UniqueV2 UniqueWithCounts UniqueWithCountsV2 ListDiff
  InvertPermutation MatrixBandPart MatrixDiag MatrixDiagV2 MatrixDiagV3 MatrixDiagPart MatrixDiagPartV2
  MatrixDiagPartV3 MatrixSetDiag MatrixSetDiagV2 MatrixSetDiagV3 Diag DiagPart EditDistance SpaceToBatch
  SpaceToBatchND BatchToSpace BatchToSpaceND SpaceToDepth DepthToSpace ExtractImagePatches ExtractVolumePatches
  Roll Einsum UnravelIndex Range LinSpace Bucketize HistogramFixedWidth ClipByValue ParallelConcat DeepCopy
  InplaceAdd InplaceSub InplaceUpdate UpperBound LowerBound SparseToDense
  QuantizeAndDequantize QuantizeAndDequantizeV2 QuantizeAndDequantizeV3 QuantizeAndDequantizeV4
  FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars FakeQuantWithMinMaxVarsPerChannel FakeQuantWithMinMaxArgsGradient
  FakeQuantWithMinMaxVarsGradient Quantize QuantizeV2 Dequantize Requantize RequantizationRange QuantizedConcat
  QuantizedConv2D QuantizedMatMul QuantizedBiasAdd QuantizedRelu QuantizedRelu6 QuantizedReshape QuantizedAvgPool
  QuantizedMaxPool QuantizeDownAndShrinkRange UniformQuantize UniformDequantize UniformRequantize
  Add AddV2 AddN Sub Mul MulNoNan Div DivNoNan RealDiv FloorDiv FloorMod TruncateDiv TruncateMod Mod Pow
  Maximum Minimum SquaredDifference Neg Abs Sign Reciprocal Inv Square Sqrt Rsqrt Exp Expm1 Log Log1p
  Sin Cos Tan Asin Acos Atan Atan2 Sinh Cosh Tanh Asinh Acosh Atanh Sigmoid Erf Erfc Erfinv Ndtri Lgamma Digamma
  Igamma Igammac IgammaGradA Betainc Polygamma Zeta BesselI0e BesselI1e Floor Ceil Round Rint IsNan IsInf IsFinite
  Equal NotEqual Less LessEqual Greater GreaterEqual LogicalAnd LogicalOr LogicalNot Select SelectV2
  MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 SparseMatMul Sum Prod Mean Max Min All Any ArgMax ArgMin
  EuclideanNorm Cumsum Cumprod CumulativeLogsumexp SegmentSum SegmentSumV2 SegmentMean SegmentMax SegmentMaxV2
  SegmentMin SegmentMinV2 SegmentProd SegmentProdV2 UnsortedSegmentSum UnsortedSegmentMax UnsortedSegmentMin
  UnsortedSegmentProd SparseSegmentSum SparseSegmentMean SparseSegmentSqrtN SparseSegmentSumWithNumSegments
  SparseSegmentMeanWithNumSegments SparseSegmentSqrtNWithNumSegments SparseSegmentSumGrad SparseSegmentMeanGrad
  SparseSegmentSqrtNGrad Complex Real Imag Angle ComplexAbs Conj Cross BiasAdd BiasAddV1 BiasAddGrad
  TanhGrad SigmoidGrad RsqrtGrad SqrtGrad ReciprocalGrad InvGrad Softplus SoftplusGrad Softsign SoftsignGrad
  Xdivy Xlogy Xlog1py BitwiseAnd BitwiseOr BitwiseXor Invert LeftShift RightShift PopulationCount ApproximateEqual
  NextAfter Cholesky CholeskyGrad MatrixInverse MatrixDeterminant LogMatrixDeterminant MatrixSolve MatrixSolveLs
  MatrixTriangularSolve Qr Svd SelfAdjointEig SelfAdjointEigV2 Eig MatrixExponential MatrixLogarithm
  MatrixSquareRoot Lu LuMatrixInverse BandedTriangularSolve TridiagonalSolve TridiagonalMatMul
  FFT IFFT RFFT IRFFT FFT2D IFFT2D RFFT2D IRFFT2D FFT3D IFFT3D RFFT3D IRFFT3D FFTND IFFTND RFFTND IRFFTND
  Bincount DenseBincount RaggedBincount SparseBincount
  Relu Relu6 ReluGrad Relu6Grad Elu EluGrad Selu SeluGrad LeakyRelu LeakyReluGrad Gelu Softmax LogSoftmax
  Conv Conv2D Conv2DBackpropInput Conv2DBackpropInputV2 Conv2DBackpropFilter Conv2DBackpropFilterV2 Conv3D
  Conv3DBackpropInput Conv3DBackpropInputV2 Conv3DBackpropFilter Conv3DBackpropFilterV2 DepthwiseConv2dNative
  DepthwiseConv2dNativeBackpropInput DepthwiseConv2dNativeBackpropFilter MaxPool MaxPoolV2 MaxPool3D MaxPoolGrad
  MaxPoolGradV2 MaxPool3DGrad MaxPoolWithArgmax MaxPoolGradWithArgmax MaxPoolGradGrad AvgPool AvgPool3D AvgPoolGrad
  AvgPool3DGrad FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 FusedBatchNormGrad FusedBatchNormGradV2
  FusedBatchNormGradV3 BatchNormWithGlobalNormalization LRN LRNGrad L2Loss InTopK InTopKV2 TopK TopKV2
  ApproxTopK Dilation2D SoftmaxCrossEntropyWithLogits SparseSoftmaxCrossEntropyWithLogits CTCGreedyDecoder
  CTCBeamSearchDecoder CTCLoss CTCLossV2 NthElement FractionalMaxPool FractionalAvgPool DataFormatDimMap
  DataFormatVecPermute _FusedConv2D _FusedMatMul _FusedBatchNormEx _FusedDepthwiseConv2dNative _MklMatMul
  _MklConv2D _MklFusedConv2D _MklFusedMatMul _MklLayerNorm _MklSwish _FusedBatchMatMul
  ResizeBilinear ResizeBilinearGrad ResizeNearestNeighbor ResizeNearestNeighborGrad ResizeBicubic ResizeArea
  ScaleAndTranslate CropAndResize NonMaxSuppression NonMaxSuppressionV2 NonMaxSuppressionV3 NonMaxSuppressionV4
  NonMaxSuppressionV5 NonMaxSuppressionWithOverlaps CombinedNonMaxSuppression DecodeJpeg DecodePng DecodeGif
  DecodeBmp DecodeImage DecodeAndCropJpeg DecodeWebP EncodeJpeg EncodeJpegVariableQuality EncodePng ExtractJpegShape
  AdjustContrast AdjustContrastv2 AdjustHue AdjustSaturation RGBToHSV HSVToRGB DrawBoundingBoxes
  DrawBoundingBoxesV2 SampleDistortedBoundingBox SampleDistortedBoundingBoxV2 StatelessSampleDistortedBoundingBox
  ImageProjectiveTransformV2 ImageProjectiveTransformV3 ExtractGlimpse ExtractGlimpseV2 RandomCrop
  AudioSpectrogram Mfcc DecodeWav EncodeWav
  RandomUniform RandomUniformInt RandomStandardNormal TruncatedNormal RandomShuffle Multinomial RandomGamma
  RandomGammaGrad RandomPoisson RandomPoissonV2 ParameterizedTruncatedNormal StatelessRandomUniform
  StatelessRandomNormal StatelessTruncatedNormal StatelessRandomUniformInt StatelessRandomUniformV2
  StatelessRandomNormalV2 StatelessTruncatedNormalV2 StatelessRandomUniformIntV2 StatelessRandomUniformFullInt
  StatelessRandomUniformFullIntV2 StatelessRandomGetKeyCounter StatelessRandomGetKeyCounterAlg StatelessRandomGetAlg
  StatelessMultinomial StatelessRandomBinomial StatelessRandomGammaV2 StatelessRandomGammaV3 StatelessRandomPoisson
  StatelessParameterizedTruncatedNormal StatelessShuffle RngBitGenerator RngReadAndSkip RngSkip StatefulUniform
  StatefulStandardNormal StatefulStandardNormalV2 StatefulTruncatedNormal StatefulUniformInt StatefulUniformFullInt
  StatefulRandomBinomial NonDeterministicInts AnonymousSeedGenerator DeleteSeedGenerator DummySeedGenerator
  Switch Merge Enter Exit NextIteration LoopCond RefEnter RefExit RefSwitch RefMerge RefNextIteration RefSelect
  RefIdentity If StatelessIf While StatelessWhile Case StatelessCase For PartitionedCall StatefulPartitionedCall
  TPUPartitionedCall SymbolicGradient _If _While _FusedMatMulGrad
  OptionalFromValue OptionalGetValue OptionalHasValue OptionalNone
  EmptyTensorList TensorListFromTensor TensorListStack TensorListGetItem TensorListSetItem TensorListPushBack
  TensorListPopBack TensorListLength TensorListElementShape TensorListReserve TensorListConcat TensorListConcatV2
  TensorListConcatLists TensorListSplit TensorListGather TensorListScatter TensorListScatterV2
  TensorListScatterIntoExistingList TensorListResize TensorListPushBackBatch
  TensorArray TensorArrayV2 TensorArrayV3 TensorArrayRead TensorArrayReadV2 TensorArrayReadV3 TensorArrayWrite
  TensorArrayWriteV2 TensorArrayWriteV3 TensorArrayGather TensorArrayGatherV2 TensorArrayGatherV3
  TensorArrayScatter TensorArrayScatterV2 TensorArrayScatterV3 TensorArraySize TensorArraySizeV2
  TensorArraySizeV3 TensorArrayConcat TensorArrayConcatV2 TensorArrayConcatV3 TensorArraySplit TensorArraySplitV2
  TensorArraySplitV3 TensorArrayClose TensorArrayCloseV2 TensorArrayCloseV3 TensorArrayGrad TensorArrayGradV2
  TensorArrayGradV3 TensorArrayGradWithShape TensorArrayPack TensorArrayUnpack
  Stack StackV2 StackPush StackPushV2 StackPop StackPopV2 StackClose StackCloseV2
  FIFOQueue FIFOQueueV2 PaddingFIFOQueue PaddingFIFOQueueV2 RandomShuffleQueue RandomShuffleQueueV2
  PriorityQueue PriorityQueueV2 QueueEnqueue QueueEnqueueV2 QueueEnqueueMany QueueEnqueueManyV2 QueueDequeue
  QueueDequeueV2 QueueDequeueMany QueueDequeueManyV2 QueueDequeueUpTo QueueDequeueUpToV2 QueueClose QueueCloseV2
  QueueSize QueueSizeV2 QueueIsClosed QueueIsClosedV2
  VarHandleOp ReadVariableOp AssignVariableOp AssignAddVariableOp AssignSubVariableOp VarIsInitializedOp
  DestroyResourceOp ResourceGather ResourceGatherNd ResourceScatterAdd ResourceScatterSub ResourceScatterMul
  ResourceScatterDiv ResourceScatterMin ResourceScatterMax ResourceScatterUpdate ResourceScatterNdUpdate
  ResourceScatterNdAdd ResourceScatterNdSub ResourceScatterNdMax ResourceScatterNdMin VariableShape
  Variable VariableV2 Assign AssignAdd AssignSub IsVariableInitialized TemporaryVariable DestroyTemporaryVariable
  ScatterUpdate ScatterAdd ScatterSub ScatterMul ScatterDiv ScatterMin ScatterMax ScatterNdUpdate ScatterNdAdd
  ScatterNdSub ScatterNdMax ScatterNdMin MutexV2 MutexLock ConsumeMutexLock
  ApplyGradientDescent ApplyMomentum ApplyKerasMomentum ApplyAdam ApplyAdagrad ApplyAdagradV2 ApplyRMSProp
  ApplyCenteredRMSProp ApplyFtrl ApplyFtrlV2 ApplyAdadelta ApplyAdaMax ApplyProximalAdagrad
  ApplyProximalGradientDescent ApplyAddSign ApplyPowerSign ResourceApplyGradientDescent ResourceApplyMomentum
  ResourceApplyKerasMomentum ResourceApplyAdam ResourceApplyAdamWithAmsgrad ResourceApplyAdagrad
  ResourceApplyAdagradV2 ResourceApplyRMSProp ResourceApplyCenteredRMSProp ResourceApplyFtrl ResourceApplyFtrlV2
  ResourceApplyAdadelta ResourceApplyAdaMax ResourceApplyProximalAdagrad ResourceApplyProximalGradientDescent
  ResourceApplyAddSign ResourceApplyPowerSign ResourceSparseApplyAdagrad ResourceSparseApplyAdagradV2
  ResourceSparseApplyMomentum ResourceSparseApplyKerasMomentum ResourceSparseApplyRMSProp
  ResourceSparseApplyCenteredRMSProp ResourceSparseApplyFtrl ResourceSparseApplyFtrlV2 ResourceSparseApplyAdadelta
  ResourceSparseApplyProximalAdagrad ResourceSparseApplyProximalGradientDescent SparseApplyAdagrad
  SparseApplyMomentum SparseApplyFtrl SparseApplyRMSProp
  HashTable HashTableV2 MutableHashTable MutableHashTableV2 MutableHashTableOfTensors MutableHashTableOfTensorsV2
  MutableDenseHashTable MutableDenseHashTableV2 AnonymousHashTable AnonymousMutableHashTable
  AnonymousMutableHashTableOfTensors AnonymousMutableDenseHashTable LookupTableFind LookupTableFindV2
  LookupTableInsert LookupTableInsertV2 LookupTableImport LookupTableImportV2 LookupTableExport LookupTableExportV2
  LookupTableSize LookupTableSizeV2 LookupTableRemoveV2 InitializeTable InitializeTableV2
  StringJoin StringSplit StringSplitV2 StringToNumber StringToHashBucket StringToHashBucketFast
  StringToHashBucketStrong AsString Substr StringLength StringLower StringUpper StringStrip RegexReplace
  StaticRegexReplace RegexFullMatch StaticRegexFullMatch ReduceJoin EncodeBase64 DecodeBase64 UnicodeDecode
  UnicodeDecodeWithOffsets UnicodeEncode UnicodeScript UnicodeTranscode StringFormat StringNGrams
  ShardedFilename ShardedFilespec ParseExample ParseExampleV2 ParseSingleExample ParseSequenceExample
  ParseSequenceExampleV2 ParseSingleSequenceExample ParseTensor SerializeTensor DecodeRaw DecodePaddedRaw
  DecodeCSV DecodeJSONExample DecodeCompressed Fingerprint
  SparseTensorDenseMatMul SparseReshape SparseFillEmptyRows SparseFillEmptyRowsGrad SparseAdd SparseAddGrad
  SparseConcat SparseSlice SparseSliceGrad SparseReorder SparseReduceSum SparseReduceSumSparse SparseReduceMax
  SparseReduceMaxSparse SparseSoftmax SparseTensorDenseAdd SparseDenseCwiseMul SparseDenseCwiseAdd
  SparseDenseCwiseDiv SparseCross SparseCrossV2 SparseCrossHashed SparseSplit SparseSparseMaximum
  SparseSparseMinimum SparseTensorSliceDataset DenseToSparseSetOperation SparseToSparseSetOperation
  DenseToDenseSetOperation SetSize SerializeSparse SerializeManySparse DeserializeSparse DeserializeManySparse
  AddSparseToTensorsMap AddManySparseToTensorsMap TakeManySparseFromTensorsMap
  RaggedTensorToTensor RaggedTensorToSparse RaggedTensorFromVariant RaggedTensorToVariant
  RaggedTensorToVariantGradient RaggedGather RaggedRange RaggedCross RaggedFillEmptyRows
  ScalarSummary HistogramSummary ImageSummary AudioSummary AudioSummaryV2 MergeSummary TensorSummary
  TensorSummaryV2 SummaryWriter FlushSummaryWriter CloseSummaryWriter
  TensorDataset TensorSliceDataset RangeDataset BatchDataset BatchDatasetV2 PaddedBatchDataset
  PaddedBatchDatasetV2 MapDataset ParallelMapDataset ParallelMapDatasetV2 FilterDataset FlatMapDataset
  InterleaveDataset ParallelInterleaveDataset ParallelInterleaveDatasetV2 ParallelInterleaveDatasetV3
  ParallelInterleaveDatasetV4 ShuffleDataset ShuffleDatasetV2 ShuffleDatasetV3 ShuffleAndRepeatDataset
  ShuffleAndRepeatDatasetV2 RepeatDataset TakeDataset SkipDataset PrefetchDataset ZipDataset ConcatenateDataset
  OptimizeDataset OptimizeDatasetV2 ModelDataset MapAndBatchDataset AnonymousIterator AnonymousIteratorV2
  AnonymousIteratorV3 Iterator IteratorV2 MakeIterator IteratorGetNext IteratorGetNextSync
  IteratorGetNextAsOptional DeleteIterator IteratorToStringHandle IteratorFromStringHandle
  IteratorFromStringHandleV2 OptionsDataset PrivateThreadPoolDataset MaxIntraOpParallelismDataset
  AssertCardinalityDataset AssertNextDataset DatasetCardinality FinalizeDataset GeneratorDataset UnbatchDataset
  WindowDataset ScanDataset GroupByWindowDataset GroupByReducerDataset TakeWhileDataset DenseToSparseBatchDataset
  IgnoreErrorsDataset RebatchDataset RebatchDatasetV2 AutoShardDataset ShardDataset UniqueDataset
  DirectedInterleaveDataset ChooseFastestBranchDataset ParallelBatchDataset ParallelFilterDataset
  SlidingWindowDataset ExperimentalAssertNextDataset ExperimentalMapDataset ExperimentalUnbatchDataset
  DatasetToGraph DatasetToGraphV2 DatasetToSingleElement ReduceDataset AnonymousMultiDeviceIterator
  MultiDeviceIterator MultiDeviceIteratorInit MultiDeviceIteratorGetNextFromShard
  MultiDeviceIteratorToStringHandle MultiDeviceIteratorFromStringHandle WrapDatasetVariant UnwrapDatasetVariant
  ModelDataset DummyMemoryCache AnonymousMemoryCache DeleteMemoryCache
  XlaCallModule XlaSharding XlaLaunch XlaClusterOutput XlaConcatND XlaSplitND XlaReplicaId XlaSpmdFullToShardShape
  XlaSpmdShardToFullShape XlaConv XlaConvV2 XlaDot XlaDotV2 XlaReduce XlaGather XlaScatter XlaSort XlaPad
  XlaSelectAndScatter XlaDynamicSlice XlaDynamicUpdateSlice XlaWhile XlaIf XlaEinsum XlaKeyValueSort
  XlaRngBitGenerator XlaVariadicReduce XlaVariadicReduceV2 XlaVariadicSort XlaOptimizationBarrier
  TPUReplicatedInput TPUReplicatedOutput TPUReplicateMetadata TPUCompilationResult TPUOrdinalSelector
  `
    .split(/\s+/)
    .filter(Boolean),
);

/** Ops whose output is a function of their data inputs' strings (file names pass through them unchanged or joined). */
export const TF_STRING_PASSTHROUGH: ReadonlySet<string> = new Set([
  'Identity',
  'IdentityN',
  'Snapshot',
  'StopGradient',
  'RefIdentity',
  'StringJoin',
  'ShardedFilename',
  'ShardedFilespec',
  'Select',
  'SelectV2',
  'Pack',
  'ConcatV2',
  'Concat',
  'Reshape',
  'ExpandDims',
  'Squeeze',
  'StaticRegexReplace',
  'RegexReplace',
  'StringFormat',
  'StringStrip',
  'StringLower',
  'StringUpper',
  'Add',
  'AddV2',
  'Merge',
  'Switch',
  'Enter',
  'RefEnter',
  'Exit',
  'NextIteration',
  'GatherV2',
  'Gather',
  'Tile',
  'Fill',
]);
