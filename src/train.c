/* placeholder until the module lands */
typedef int fc_train_placeholder;
