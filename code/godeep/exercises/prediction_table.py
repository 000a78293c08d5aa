"""The predict-then-run prompts of the book, at least one per section (:data:`PREDICTIONS`)."""

from __future__ import annotations

from .prediction_types import Prediction, _entries

C1, C2, C3, C4, C5 = (
    "chapters/01-signal-propagation",
    "chapters/02-initialization",
    "chapters/03-normalization",
    "chapters/04-residual-learning",
    "chapters/05-understanding-residuals",
)

#: one entry (at least) per section of the book; the section is the notebook that measures it
PREDICTIONS: dict[str, Prediction] = _entries(
    Prediction(
        "ch1.sigmoid-weight",
        f"{C1}/01-chain-rule",
        "Through 20 sigmoid layers sharing one weight w, which w gives the largest |d x_20 / d x_0|: 1, 2, 4 or 8?",
        "choice",
        "a larger w multiplies each factor w * sigmoid'(w x) by more, until the units saturate and "
        "sigmoid' collapses: the product peaks at a moderate weight and falls for large ones.",
        options=("1", "2", "4", "8"),
    ),
    Prediction(
        "ch1.tanh-fade",
        f"{C1}/02-watching-signals",
        "In a deep tanh MLP with weights N(0, 1/n), does the activation std shrink, stay about "
        "constant, or grow with depth?",
        "choice",
        "1/n keeps a *linear* layer's variance, but tanh is contractive (|tanh z| < |z|), so every layer "
        "loses a little: the std fades with depth.",
        options=("shrink", "constant", "grow"),
    ),
    Prediction(
        "ch1.update-ratio",
        f"{C1}/03-training-deep-nets",
        "In the deep sigmoid network, by how many orders of magnitude is fc1's update-to-weight ratio below the output "
        "layer's? (a number: 2 means 100x)",
        "number",
        "the gradient reaching fc1 has passed through every sigmoid' <= 1/4 above it: the gap is many "
        "orders of magnitude, not a factor of a few.",
        factor=1.5,
    ),
    Prediction(
        "ch1.clip-vanishing",
        f"{C1}/04-gradient-clipping",
        "Does clipping the gradients (by global norm 1 or 0.01, or by value 1e-3) let the 10-layer "
        "sigmoid network of 1.3 leave chance (ln 10) within 10 epochs: 'yes' or 'no'?",
        "choice",
        "clipping only ever shortens a gradient: by norm it scales every layer alike, by value it "
        "clamps the large components. fc1's gradient, a millionth of the output layer's, stays as "
        "small, so the first layers stay frozen and the loss at chance.",
        options=("yes", "no"),
    ),
    Prediction(
        "ch2.relu-second-moment",
        f"{C2}/01-variance-scaling",
        "A ReLU receives zero-mean, symmetric inputs of variance 1. What is the mean of its "
        "squared output, E[relu(x)^2]?",
        "number",
        "ReLU zeroes the negative half and keeps the positive half unchanged; by symmetry that half carries "
        "half of E[x^2]. This factor 1/2 is why He's variance is 2/fan_in.",
        rtol=0.05,
    ),
    Prediction(
        "ch2.stride-fan",
        f"{C2}/02-fans-and-defaults",
        "In a 3x3 convolution with stride 2, each input pixel feeds on average what fraction of the fan-out "
        "(out_channels x 3 x 3) outputs?",
        "number",
        "with stride 2 only every other output position in each direction is computed, so an input is "
        "covered by a quarter of the kernel positions on average: the fan-out overstates the "
        "outputs an input feeds by 4.",
        rtol=0.05,
    ),
    Prediction(
        "ch2.xavier-vs-kaiming",
        f"{C2}/03-deep-relu-experiment",
        "At depth 30 (ReLU, width 64), which initialization leaves the training loss at chance (log 10) for all of its "
        "epochs: 'Xavier', 'Kaiming', 'both' or 'neither'?",
        "choice",
        "Xavier's variance 1/fan_avg ignores the ReLU's halving, so the signal shrinks by about sqrt(1/2) per "
        "layer: 30 layers leave about 2^-15 of its std, and the net cannot start learning.",
        options=("Xavier", "Kaiming", "both", "neither"),
    ),
    Prediction(
        "ch2.isometry-spread",
        f"{C2}/04-orthogonal-isometry",
        "Deep linear nets of depth 10, Gaussian N(0, 1/n) weights versus orthogonal ones: what differs between "
        "their input-output Jacobians: 'the mean square' of the singular values, 'the spread', 'both' or 'neither'?",
        "choice",
        "the variance rule fixes the mean square of every layer's singular values, and a product of layers "
        "keeps it (in expectation); it does not fix their spread. A square Gaussian matrix's singular values "
        "already range from near 0 to about 2, and a product multiplies these spreads, while an orthogonal "
        "matrix's are all exactly 1, so the product's are too.",
        options=("the mean square", "the spread", "both", "neither"),
    ),
    Prediction(
        "ch2.lsuv-first-layer",
        f"{C2}/05-lsuv",
        "The 40 input features are standardized (mean 0, variance 1). Under Kaiming's "
        "initialization, Var[w] = 2/fan_in, what is the variance of the first linear layer's "
        "output on a batch?",
        "number",
        "Var[y] = n Var[w] Var[x] = n (2/n) 1 = 2: Kaiming's factor 2 makes up for the ReLU's halving, "
        "but the first layer's input has not been through a ReLU, so nothing halves it. LSUV measures "
        "this and divides the first layer's weights by sqrt(2).",
        rtol=0.15,
    ),
    Prediction(
        "ch3.standardize",
        f"{C3}/01-why-normalize",
        "Inputs with mean 3 versus the same inputs standardized: which reaches the lower loss at "
        "its best learning rate, "
        "'raw' or 'standardized'?",
        "choice",
        "a large input mean makes the loss surface an elongated valley (the Hessian's largest eigenvalue grows "
        "with mean^2), which caps the stable learning rate; standardizing rounds the valley.",
        options=("raw", "standardized", "the same"),
    ),
    Prediction(
        "ch3.layer-norm-count",
        f"{C3}/02-one-recipe-many-norms",
        "For x of shape (N, C, H, W) = (4, 6, 2, 3), over how many values does LayerNorm compute each mean?",
        "number",
        "LayerNorm's support set is one example's C x H x W values: 6 x 2 x 3 = 36 (BatchNorm's would be "
        "N x H x W = 24).",
        rtol=0.0,
    ),
    Prediction(
        "ch3.train-mode-eval",
        f"{C3}/03-batchnorm-in-depth",
        "Evaluate a trained BN network in *train* mode on test batches that each hold a single class: is its accuracy "
        "'about the same' as in eval mode, or 'far lower'?",
        "choice",
        "in train mode BN normalizes with the batch's own statistics; in a one-class batch the centring "
        "subtracts that class's own mean, removing much of what tells it apart, so the accuracy "
        "falls (below 0.6 here).",
        options=("about the same", "far lower"),
    ),
    Prediction(
        "ch3.high-lr",
        f"{C3}/04-experiments",
        "At learning rate 0.3, which of the three deep nets trains (loss below 1.3): 'naive', "
        "'kaiming' or 'batch norm'?",
        "choice",
        "at this rate both unnormalized nets (naive and Kaiming-initialized) stay above loss 2 for every "
        "seed while the BN net trains: a good initialization alone does not make a large rate usable; the section's "
        "experiments separate how much of BN's lead comes from the rate it allows.",
        options=("naive", "kaiming", "batch norm"),
    ),
    Prediction(
        "ch3.ghost-batch",
        f"{C3}/05-batch-size",
        "Normalizing over ghost batches of 2 instead of 32 examples (same model, same training): is the test accuracy "
        "'much worse', 'about the same' or 'better'?",
        "choice",
        "the statistics of 2 examples are noisy, but the network learns with that noise and evaluates with "
        "running averages; in this setup the two end within 2 points (the section's control shows what does break).",
        options=("much worse", "about the same", "better"),
    ),
    Prediction(
        "ch3.fixed-norm",
        f"{C3}/06-scale-invariance",
        "At learning rate 0.3, the BN net trained with each unit's weight norm put back to its initial value "
        "after every step: is its final training loss 'lower', 'about the same' or 'higher' than with plain SGD?",
        "choice",
        "a weight that feeds a BatchNorm only matters through its direction, which turns at the effective rate "
        "lr / |w|^2; under plain SGD |w| grows (fastest at a large rate) and the effective rate falls. Holding "
        "the norm fixed keeps the effective rate at its large initial value, and the net trains worse.",
        options=("lower", "about the same", "higher"),
    ),
    Prediction(
        "ch3.recalibrate",
        f"{C3}/07-bn-in-deployment",
        "After pruning 70% of a trained BN ConvNet's weights (the smallest in magnitude), is its test accuracy with "
        "the old running statistics 'lower', 'about the same' or 'higher' than after recalibrating them?",
        "choice",
        "pruning shrinks the pre-activations' variance far below the running variances, so inference-mode BN "
        "divides by the wrong numbers and the signal shrinks layer after layer; recomputing the statistics on "
        "the training data restores most of the accuracy.",
        options=("lower", "about the same", "higher"),
    ),
    Prediction(
        "ch3.rmsnorm-shift",
        f"{C3}/08-rmsnorm-weight-standardization",
        "A constant 10 is added to every input pixel of a small MLP whose first layer is RMSNorm. After 3 "
        "epochs, is its test accuracy 'about the same' as the LayerNorm MLP's, 'a few points lower', or "
        "'near chance'?",
        "choice",
        "RMSNorm does not subtract the mean: the offset takes over the root mean square, so the part of "
        "the output that differs between examples shrinks about tenfold under a common offset that "
        "carries almost all its energy; the next layer's inputs are badly conditioned and SGD does not get "
        "off the ground in 3 epochs. LayerNorm removes the offset exactly.",
        options=("about the same", "a few points lower", "near chance"),
    ),
    Prediction(
        "ch3.ws-small-batch",
        f"{C3}/08-rmsnorm-weight-standardization",
        "In 3.5's small ConvNet at its small-batch end, does GroupNorm with weight-standardized "
        "convolutions end 'higher' than GroupNorm alone (by more than 2 points on average), 'about the "
        "same', or 'lower'?",
        "choice",
        "at this scale every normalization ends above 95% and within 2 points of the others: there is no "
        "small-batch problem for WS to repair, so it neither helps nor hurts here.",
        options=("higher", "about the same", "lower"),
    ),
    Prediction(
        "ch4.degradation",
        f"{C4}/01-degradation",
        "After the same number of steps, which plain network has the lower training loss: 'plain-20' or 'plain-56'?",
        "choice",
        "the deeper plain net could copy the shallower one and set the rest to identity, yet after the same "
        "steps its *training* loss is higher: an optimization problem, not overfitting (at this laptop scale it "
        "shows as slower optimization; the section says how far the comparison goes).",
        options=("plain-20", "plain-56"),
    ),
    Prediction(
        "ch4.plain-vs-residual",
        f"{C4}/02-residual-blocks",
        "Fitting the same target with 10 blocks: which ends with the higher error, 'plain' or 'residual'?",
        "choice",
        "a residual block only has to learn the correction F(x) = H(x) - x, and the identity path carries the "
        "signal and the gradient through all 10 blocks; the plain stack must learn the whole "
        "mapping through 10 layers.",
        options=("plain", "residual"),
    ),
    Prediction(
        "ch4.resnet50-flops",
        f"{C4}/03-resnet-family",
        "ResNet-50 is 16 layers deeper than ResNet-34. By how many percent more FLOPs (multiply-adds) does it cost?",
        "number",
        "its bottleneck blocks do the 3x3 convolution at a quarter of the width (1x1 convs reduce and restore "
        "the channels), so 50 layers cost only about 5% more than 34.",
        factor=2.0,
    ),
    Prediction(
        "ch4.article-shortcut",
        f"{C4}/04-source-examples",
        "The article's small convnet trained 5 epochs on the digits, with and without its shortcuts: which reaches the "
        "higher test accuracy, 'residual' or 'plain'?",
        "choice",
        "with the same layers and recipe, the shortcut lets the gradient reach the early layers undiminished, "
        "so the residual version learns faster in a short budget (every seed, in this section).",
        options=("residual", "plain"),
    ),
    Prediction(
        "ch4.highway-small-lr",
        f"{C4}/05-highway-networks",
        "At learning rate 0.01 (200 steps of SGD with momentum), which 30-layer network gets its training "
        "loss well below chance: 'plain' (Kaiming), 'highway' (gates closed, b_T = -2), 'both' or 'neither'?",
        "choice",
        "the plain net trains and the highway net barely moves: its closed gates (T = 0.12) add only an eighth "
        "of every change of a transform to the output, so it needs a larger learning rate (at 0.1 the order "
        "flips: the highway net trains and the plain net does not).",
        options=("plain", "highway", "both", "neither"),
    ),
    Prediction(
        "ch4.dense-gradient",
        f"{C4}/06-densenet",
        "At initialization, relative to its last 3x3 convolution, in which 32-35-layer network does the "
        "first 3x3 convolution get the largest gradient (||dL/dW|| / ||W||): 'plain', 'ResNet', "
        "'DenseNet' or 'chain' (the DenseNet with its dense connections cut)?",
        "choice",
        "with batch normalization the gradient of a plain net grows on the way back (over 50-fold over "
        "32 layers); the ResNet damps it (5 to 50-fold), and in the DenseNet every layer reaches the "
        "output directly, so its profile is flat (within a factor 2); cut the connections and it grows.",
        options=("plain", "ResNet", "DenseNet", "chain"),
    ),
    Prediction(
        "ch4.deep-or-wide",
        f"{C4}/07-wide-and-grouped",
        "At (almost) equal parameters, about 213,000, and the same 100 SGD steps at learning rate 0.1, "
        "which network ends with the lower training loss on the digits for most seeds: 'deep' "
        "(ResNet-56, widths 8-16-32) or 'wide' (ResNet-8, widths 27-54-108)?",
        "choice",
        "the wide one, with every seed run (by a factor of 10 or more for the notebook's seeds 0-2; an "
        "independent re-run with seeds 10-12 found factors of 4 to 12 in PyTorch): at 0.1 the 56-layer net "
        "trains for some seeds and barely for others. At learning rate 0.02 the deep net trains with every "
        "seed and the gap in training loss shrinks below a factor 6, while the wide net keeps the higher "
        "test accuracy at both rates.",
        options=("deep", "wide"),
    ),
    Prediction(
        "ch5.residual-gradient-ratio",
        f"{C5}/01-gradient-flow",
        "In a 100-block residual MLP at initialization, what is the ratio of the gradient norm at "
        "the first layer to the "
        "last (plain: above 1e7)? Predict within a factor 5.",
        "number",
        "each residual block multiplies the backward signal by (1 + dF/dx), not by dF/dx alone: the identity "
        "term keeps the product of 100 factors near 1 instead of exponential.",
        factor=5.0,
    ),
    Prediction(
        "ch5.shortcut-gain",
        f"{C5}/02-identity-mappings",
        "With the branches at zero, over the 27 blocks of a ResNet-56, which shortcut passes the largest "
        "gradient gain: 'identity', 'constant_scaling', 'exclusive_gating', 'shortcut_gating' or "
        "'conv_shortcut'?",
        "choice",
        "with the branches at zero, the 1x1-convolution network is a plain batch-normalized network: BN "
        "resets the forward signal at every block but not the gradient, which grows by about "
        "sqrt(pi/(pi-1)) = 1.21 per block (more than 100 times the identity's over 27 blocks); scaling "
        "and gating with b_g = 0 shrink the direct path, and the identity and exclusive gating keep it.",
        options=(
            "identity",
            "constant_scaling",
            "exclusive_gating",
            "shortcut_gating",
            "conv_shortcut",
        ),
    ),
    Prediction(
        "ch5.bn-after-add",
        f"{C5}/03-pre-activation",
        "Which placement of BN and ReLU gives the largest first-to-last gradient ratio: 'original', 'bn_after_add', "
        "'relu_before_add', 'relu_preact' or 'full_preact'?",
        "choice",
        "a BN after the addition normalizes the shortcut's signal too, so the identity path is no longer an "
        "identity: the stream is rescaled at every block and the gradient ratio grows.",
        options=("original", "bn_after_add", "relu_before_add", "relu_preact", "full_preact"),
    ),
    Prediction(
        "ch5.post-ln",
        f"{C5}/04-pre-norm-transformers",
        "In a Post-LN transformer at initialization, are the parameter gradients larger 'near the output', 'near the "
        "input', or 'even' across layers?",
        "choice",
        "Post-LN normalizes after each addition, so the backward signal is divided by a LayerNorm's scale at "
        "every layer on its way down: the layers near the output get the largest gradients (Xiong et al.).",
        options=("near the output", "near the input", "even"),
    ),
    Prediction(
        "ch5.sharpness",
        f"{C5}/05-loss-landscapes",
        "At 20 layers, which network's loss rises faster along filter-normalized random directions: 'plain' or "
        "'residual'?",
        "choice",
        "the residual net's loss surface is smoother around its minimum; the plain net's is sharper and, for "
        "most seeds, rugged.",
        options=("plain", "residual"),
    ),
    Prediction(
        "ch5.lesion",
        f"{C5}/06-ensembles",
        "Delete one middle block of the trained residual MLP. Does the accuracy fall 'near "
        "chance', or keep 'most of it' "
        "(above 85% of the intact accuracy)?",
        "choice",
        "a residual net behaves like an ensemble of paths of many lengths; deleting a block removes only the "
        "paths through it, so most paths, and most of the accuracy, remain (a plain net falls to chance).",
        options=("near chance", "most of it"),
    ),
    Prediction(
        "ch5.shattered",
        f"{C5}/07-shattered-gradients",
        "For a 24-block feed-forward net, what sign will the lag-1 autocorrelation of the input gradient (over a 1-D "
        "grid of inputs) have: '+', '-' or '0' (about zero, |rho| < 0.2)?",
        "sign",
        "deep feed-forward nets shatter the gradient into white noise: neighbouring inputs get unrelated "
        "gradients (rho near 0), while a residual net keeps them correlated.",
        zero=0.2,
    ),
    Prediction(
        "ch5.rezero-stream",
        f"{C5}/08-beyond-normalization",
        "At initialization, what is the ratio of the output stream's RMS to the input's in a deep ReZero network?",
        "number",
        "every ReZero branch is multiplied by alpha = 0 at initialization, so each block is exactly the "
        "identity and x_L = x_0.",
        rtol=1e-3,
    ),
    Prediction(
        "ch5.sd-lesion",
        f"{C5}/09-stochastic-depth",
        "Train the 12-block residual MLP with and without stochastic depth (p_L = 0.5), then delete "
        "one block at a time: which net loses less test accuracy on average: 'stochastic depth', "
        "'no stochastic depth' or 'about the same' (within 2 points)?",
        "choice",
        "the net trained with stochastic depth loses less, for every seed in both frameworks. But "
        "ordinary dropout at the same rates, which never removes a whole block, makes the net just as "
        "robust, and so does a three times larger learning rate without either: robustness to "
        "lesions is not specific to training with blocks missing.",
        options=("stochastic depth", "no stochastic depth", "about the same"),
    ),
    Prediction(
        "ch5.nf-variance",
        f"{C5}/10-normalizer-free",
        "In a normalizer-free ResNet at initialization (alpha = 0.2), the stream's variance grows by about "
        "alpha^2 per block through stage 1. After the next block, the transition to stage 2 (stride 2, a 1x1 "
        "shortcut), is the stream's average channel variance 'higher', 'about the same' or 'lower' than "
        "after the block before it?",
        "choice",
        "lower: a transition's shortcut is a scaled-WS 1x1 conv of gamma relu(h / beta), which sees "
        "unit-variance inputs, so the stream restarts near 1 + alpha^2 instead of carrying beta^2 on "
        "(without beta and alpha the variance doubles at every block, transitions included).",
        options=("higher", "about the same", "lower"),
    ),
)
